"""GitSource.fetch mirrors the remote branch head into its own work tree."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pytest

from reconciler.source import GitSource, SourceMisconfigured
from reconciler.source.command import run_git
from tests.source.gitutil import git, make_remote

pytestmark = pytest.mark.git

SPEC_A = "kind: FederationSpec\nmetadata: {name: a}\n"
SPEC_B = "kind: FederationSpec\nmetadata: {name: b}\n"


def test_first_fetch_clones_shallow_and_reports_the_head(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    remote.commit({"specs/t/b.yaml": SPEC_B}, "second")
    source = GitSource(remote.url, tmp_path / "work")

    assert source.revision is None
    snapshot = source.fetch()

    assert snapshot.revision == remote.head()
    assert source.revision == remote.head()
    assert (snapshot.root / "specs/t/b.yaml").read_text() == SPEC_B
    assert git(snapshot.root, "rev-list", "--count", "HEAD") == "1"  # depth 1


def test_later_fetch_moves_the_work_tree_and_drops_stray_files(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A, "specs/t/b.yaml": SPEC_B})
    source = GitSource(remote.url, tmp_path / "work")
    root = source.fetch().root
    (root / "specs/t/a.yaml").write_text("edited locally\n")
    (root / "specs/t/stray.yaml").write_text("left behind\n")

    head = remote.commit({"specs/t/b.yaml": None, "specs/t/c.yaml": SPEC_B}, "rm b, add c")
    snapshot = source.fetch()

    assert snapshot.revision == head
    assert sorted(p.name for p in (root / "specs/t").iterdir()) == ["a.yaml", "c.yaml"]
    assert (root / "specs/t/a.yaml").read_text() == SPEC_A


def test_full_depth_fetch_keeps_history(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    remote.commit({"specs/t/b.yaml": SPEC_B})
    source = GitSource(remote.url, tmp_path / "work", depth=None)

    root = source.fetch().root

    assert git(root, "rev-list", "--count", "HEAD") == "2"
    assert not (root / ".git/shallow").exists()


def test_fetch_from_a_plain_local_path(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    source = GitSource(str(remote.clone), tmp_path / "work")

    assert source.fetch().revision == remote.head()


def test_workdir_that_is_not_ours_is_refused(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    workdir = tmp_path / "work"
    workdir.mkdir()
    (workdir / "precious.txt").write_text("not a checkout\n")

    with pytest.raises(SourceMisconfigured, match="not empty"):
        GitSource(remote.url, workdir).fetch()
    assert (workdir / "precious.txt").exists()


def test_a_fetch_that_finds_nothing_new_runs_one_light_git_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    source = GitSource(remote.url, tmp_path / "work")
    root = source.fetch().root
    git(root, "pack-refs", "--all")  # the refs as `git gc` leaves them
    commands: list[str] = []

    def recording(cwd: Path, *args: str, **options: Any) -> bytes:
        commands.append(args[0])
        return run_git(cwd, *args, **options)

    monkeypatch.setattr("reconciler.source.git.run_git", recording)
    assert source.fetch().revision == remote.head()
    assert commands == ["ls-remote"]

    commands.clear()
    head = remote.commit({"specs/t/b.yaml": SPEC_B}, "add b")
    assert source.fetch().revision == head
    assert commands == ["ls-remote", "fetch", "diff-tree", "checkout", "clean"]
    assert (root / "specs/t/b.yaml").read_text() == SPEC_B


def test_a_branch_moved_back_is_followed_back(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    first = remote.head()
    source = GitSource(remote.url, tmp_path / "work")
    remote.commit({"specs/t/b.yaml": SPEC_B}, "add b")
    root = source.fetch().root
    git(remote.bare, "update-ref", "refs/heads/main", first)  # a force push to the old head

    assert source.fetch().revision == first
    assert not (root / "specs/t/b.yaml").exists()


def test_full_history_is_fetched_into_a_shallow_checkout_at_the_same_head(
    tmp_path: Path,
) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    remote.commit({"specs/t/b.yaml": SPEC_B})
    root = GitSource(remote.url, tmp_path / "work").fetch().root

    GitSource(remote.url, root, depth=None).fetch()

    assert git(root, "rev-list", "--count", "HEAD") == "2"


def test_a_checkout_removed_between_fetches_is_made_again(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    source = GitSource(remote.url, tmp_path / "work")
    root = source.fetch().root
    shutil.rmtree(root)

    assert source.fetch().revision == remote.head()
    assert (root / "specs/t/a.yaml").read_text() == SPEC_A


def test_a_new_process_moves_a_checkout_another_left_elsewhere(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    first = remote.head()
    head = remote.commit({"specs/t/b.yaml": SPEC_B}, "add b")
    root = GitSource(remote.url, tmp_path / "work", depth=None).fetch().root
    git(root, "checkout", "--quiet", "--detach", first)  # a person, or a crash mid-checkout

    assert GitSource(remote.url, root, depth=None).fetch().revision == head
    assert git(root, "rev-parse", "HEAD") == head
    assert (root / "specs/t/b.yaml").read_text() == SPEC_B


def test_a_commit_only_inside_left_out_folders_needs_no_checkout(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The daemon's checkout leaves out specs/ and status/: a spec push or a status commit
    changes nothing in its work tree, so no checkout runs; a change elsewhere does one."""
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A, "apps/x/app.py": "v1\n"})
    source = GitSource(remote.url, tmp_path / "work", sparse_excludes=("specs", "status"))
    root = source.fetch().root
    commands: list[str] = []

    def recording(cwd: Path, *args: str, **options: Any) -> bytes:
        commands.append(args[0])
        return run_git(cwd, *args, **options)

    monkeypatch.setattr("reconciler.source.git.run_git", recording)
    head = remote.commit({"specs/t/b.yaml": SPEC_B, "status/t/a.md": "ok\n"}, "spec + status")
    assert source.fetch().revision == head == source.revision
    assert "checkout" not in commands and "diff-tree" in commands

    commands.clear()
    head = remote.commit({"apps/x/app.py": "v2\n"}, "app change")
    assert source.fetch().revision == head
    assert "checkout" in commands
    assert (root / "apps/x/app.py").read_text() == "v2\n"
    assert not (root / "specs").exists()
