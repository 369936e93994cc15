"""Every hostile case gets a clear error from `reconciler validate` and from a daemon cycle,
and never a crash; the good specs next to them are still reconciled.

The validate half runs each case alone (in process, exit 1, the problem at its path) and
the whole corpus at once through `python -m reconciler validate` (no traceback). The daemon
half pushes the whole corpus to a real remote next to a running federation and a new one:
the new one starts, the running one is untouched, and each case's problem is in the plan.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.model import Phase, SpecProblem
from tests.daemon.conftest import SPEC, SPEC_PATH, World, make_world
from tests.hostile.cases import CASES, GOOD_PATH, Case
from tests.source.gitutil import git, isolated_git

__all__ = ["isolated_git"]

REFUSED = [c for c in CASES if not c.gap]
GAPS = [c for c in CASES if c.gap]
SECOND_PATH = "specs/acme/second.yaml"
SECOND = SPEC.replace("name: digits-fedavg", "name: second").replace(
    "prefix: acme/digits-fedavg", "prefix: acme/second"
)


def write_case(root: Path, case: Case) -> None:
    for path, data in case.files.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
    for path, link in case.links.items():
        target = root / path
        target.parent.mkdir(parents=True, exist_ok=True)
        os.symlink(link, target)


def repo_with(root: Path, cases: list[Case]) -> Path:
    (root / "specs" / "acme").mkdir(parents=True)
    (root / GOOD_PATH).write_text(SPEC)
    for case in cases:
        write_case(root, case)
    return root


def matches(problems: list[SpecProblem], case: Case) -> bool:
    return any(p.file == case.where and re.search(case.expect, p.message) for p in problems)


def test_the_corpus_has_sixty_refused_cases_and_names_its_gaps() -> None:
    assert len(REFUSED) >= 60
    assert len({c.id for c in CASES}) == len(CASES)
    assert all(c.expect for c in CASES)
    assert [c.id for c in GAPS] == ["model-from-git-dir", "model-nul-in-path"]


@pytest.mark.parametrize("case", [c for c in REFUSED if c.on_disk], ids=lambda c: c.id)
def test_validate_names_the_problem_and_exits_1(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(repo_with(tmp_path, [case]))

    code = main(["validate", ".", "--output", "json"])

    body = json.loads(capsys.readouterr().out)
    problems = [SpecProblem(**p) for p in body["problems"]]
    assert code == 1
    assert matches(problems, case), problems
    assert GOOD_PATH not in {p.file for p in problems}  # the good spec is unaffected


@pytest.mark.parametrize("case", [c for c in GAPS if c.on_disk], ids=lambda c: c.id)
def test_known_gaps_still_pass_validation(
    case: Case, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """Each gap is written down in docs/reliability.md; this fails once it is closed, so
    the case can move to the refused ones."""
    monkeypatch.chdir(repo_with(tmp_path, [case]))

    assert main(["validate", "."]) == 0, case.gap


def test_the_whole_corpus_at_once_never_shows_a_traceback(tmp_path: Path) -> None:
    root = repo_with(tmp_path, [c for c in REFUSED if c.on_disk])

    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "validate", "."],
        cwd=root,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    for case in (c for c in REFUSED if c.on_disk):
        assert case.where in done.stdout, case.id


# --- the daemon ------------------------------------------------------------------------


def push_cases(world: World, cases: list[Case], extra: dict[str, str]) -> None:
    """One commit with every case (files, links, submodules) and `extra` text files."""
    clone = world.remote.clone
    git(clone, "pull", "--quiet", "--rebase", "origin", "main")
    for case in cases:
        write_case(clone, case)
    for path, text in extra.items():
        (clone / path).write_text(text)
    git(clone, "add", "--all")
    head = git(clone, "rev-parse", "HEAD")
    for case in cases:
        for path in case.submodules:
            git(clone, "update-index", "--add", "--cacheinfo", f"160000,{head},{path}")
    git(clone, "commit", "--quiet", "-m", "hostile corpus")
    git(clone, "push", "--quiet", "origin", "HEAD:main")


def plan_problems(world: World) -> list[SpecProblem]:
    outcome = world.daemon.last_outcome
    assert outcome is not None and outcome.plan is not None
    found = list(outcome.plan.unclaimed_problems)
    for action in outcome.plan.actions:
        found += action.problems
    return found


@pytest.mark.pg
@pytest.mark.git
def test_a_daemon_cycle_refuses_each_case_and_reconciles_the_rest(
    tmp_path: Path, pg_url: str
) -> None:
    world = make_world(tmp_path, pg_url)
    try:
        world.cycle()
        assert world.record().phase is Phase.STARTING

        push_cases(world, REFUSED, {SECOND_PATH: SECOND})
        world.cycle()

        outcome = world.daemon.last_outcome
        assert outcome is not None
        assert not (outcome.source_error or outcome.store_error or outcome.runtime_error)
        assert [r.error for r in outcome.results if not r.ok] == []
        assert world.record().phase is Phase.STARTING  # untouched
        assert world.record("second").phase is Phase.STARTING  # started next to the corpus
        problems = plan_problems(world)
        missing = [c.id for c in REFUSED if not matches(problems, c)]
        assert missing == [], [str(p) for p in problems]
        world.cycle()  # and the next cycle is as calm
        assert world.daemon.last_outcome is not None and world.daemon.last_outcome.errors == []
        assert len(world.run_ids()) == 2
    finally:
        world.daemon.stop()
        world.store.close()


@pytest.mark.pg
@pytest.mark.git
def test_a_spec_swapped_for_a_symlink_is_not_a_deletion_even_with_pruning(
    tmp_path: Path, pg_url: str
) -> None:
    world = make_world(tmp_path, pg_url, prune=True)
    try:
        world.cycle()
        assert world.record().phase is Phase.STARTING
        clone = world.remote.clone
        git(clone, "pull", "--quiet", "--rebase", "origin", "main")
        (clone / SPEC_PATH).unlink()
        os.symlink("/etc/hostname", clone / SPEC_PATH)
        git(clone, "add", "--all")
        git(clone, "commit", "--quiet", "-m", "a link where the spec was")
        git(clone, "push", "--quiet", "origin", "HEAD:main")

        for _ in range(2):  # the cycle that sees the link, and one more from the cache
            world.cycle()
            assert world.record().phase is Phase.STARTING  # not stopped, though pruning is on
            status = world.daemon.reporter.statuses[world.record().key]
            assert "SpecInvalid" in {c.type for c in status.conditions}
            assert any("symbolic link" in p for p in status.problems)
    finally:
        world.daemon.stop()
        world.store.close()


@pytest.mark.pg
@pytest.mark.git
def test_an_out_of_range_number_blocks_no_other_start(tmp_path: Path, pg_url: str) -> None:
    world = make_world(tmp_path, pg_url)
    try:
        world.cycle()
        huge = next(c for c in CASES if c.id == "huge-integer")
        push_cases(world, [huge], {SECOND_PATH: SECOND})
        world.cycle()

        outcome = world.daemon.last_outcome
        assert outcome is not None and outcome.errors == []
        assert world.record("second").phase is Phase.STARTING
    finally:
        world.daemon.stop()
        world.store.close()
