"""`reconciler plan` against the three kinds of recorded state, with real Git and PostgreSQL."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.specs import load_repo
from reconciler.store import Store
from tests.source.gitutil import git, isolated_git

__all__ = ["isolated_git"]

PROJECT = Path(__file__).parents[2]
FEDAVG = "specs/acme/digits-fedavg.yaml"


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A spec repository with the example specs, committed on main."""
    root = tmp_path / "repo"
    shutil.copytree(PROJECT / "specs", root / "specs")
    git(tmp_path, "init", "--quiet", "-b", "main", str(root))
    git(root, "add", "--all")
    git(root, "commit", "--quiet", "-m", "specs")
    return root


def plan_json(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, dict]:
    code = main(["plan", *args, "--output", "json"])
    return code, json.loads(capsys.readouterr().out)


def edit(repo: Path, path: str, old: str, new: str) -> None:
    target = repo / path
    target.write_text(target.read_text().replace(old, new))


@pytest.mark.git
def test_against_a_revision_shows_what_a_change_does(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    edit(repo, FEDAVG, "total: 5", "total: 9")
    edit(repo, "specs/acme/digits-fedprox.yaml", "proxMu: 0.01", "proxMu: 0.1")
    code, plan = plan_json(capsys, str(repo), "--against", "main")
    assert code == 1
    kinds = {a["federation"]["name"]: a["action"] for a in plan["actions"]}
    assert kinds == {"digits-fedavg": "update", "digits-fedprox": "replace"}


@pytest.mark.git
def test_against_an_unchanged_revision_exits_zero(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, plan = plan_json(capsys, str(repo), "--against", "HEAD")
    assert (code, plan["actions"]) == (0, [])


@pytest.mark.git
def test_against_an_unknown_revision_is_an_error(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert main(["plan", str(repo), "--against", "no-such-branch"]) == 2
    assert "no-such-branch" in capsys.readouterr().err


def test_no_status_folder_means_everything_starts(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    code, plan = plan_json(capsys, str(repo), "--against", "status")
    assert code == 1
    assert {a["action"] for a in plan["actions"]} == {"start"}


@pytest.mark.git
def test_against_committed_status_diffs_fields(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    from reconciler.model import Phase
    from reconciler.report import FederationStatus, render_status

    state = load_repo(repo)
    statuses = [
        FederationStatus(
            key=s.key,
            path=s.path,
            phase=Phase.RUNNING,
            generation=1,
            spec_digest=s.digest,
            revision=git(repo, "rev-parse", "HEAD"),
            total_rounds=s.rounds_total,
        )
        for s in state.specs.values()
    ]
    for path, text in render_status(statuses).items():
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text(text)
    assert plan_json(capsys, str(repo), "--against", "status")[0] == 0
    edit(repo, FEDAVG, "total: 5", "total: 9")
    code, plan = plan_json(capsys, str(repo), "--against", "status")
    assert code == 1
    (action,) = plan["actions"]
    assert action["action"] == "update"
    assert action["changes"] == [
        {"path": "spec.rounds.total", "old": 5, "new": 9, "forcesReplacement": False}
    ]


def test_invalid_spec_exits_two_and_names_file_and_line(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    edit(repo, FEDAVG, "total: 5", "total: 0")
    code = main(["plan", str(repo), "--against", "status"])
    out = capsys.readouterr().out
    assert code == 2
    assert "specs/acme/digits-fedavg.yaml:" in out and "spec.rounds.total" in out


@pytest.mark.pg
def test_against_the_database(repo: Path, pg_url: str, capsys) -> None:  # type: ignore[no-untyped-def]
    with Store.connect(pg_url) as store:
        store.migrate()
        for spec in load_repo(repo).specs.values():
            store.create(spec)
    code, plan = plan_json(capsys, str(repo), "--against", "db", "--database-url", pg_url)
    # Recorded but never started (Pending): the plan starts them; nothing else differs.
    assert code == 1
    assert {a["action"] for a in plan["actions"]} == {"start"}
    assert all(a["reason"] == "recorded but never started" for a in plan["actions"])


def test_unreachable_database_is_exit_two(repo: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    url = "postgresql://nobody:hunter2@127.0.0.1:1/none"
    assert main(["plan", str(repo), "--against", "db", "--database-url", url]) == 2
    err = capsys.readouterr().err
    assert "127.0.0.1:1" in err and "hunter2" not in err
