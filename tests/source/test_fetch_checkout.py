"""GitSource.fetch mirrors the remote branch head into its own work tree."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from reconciler.source import GitSource, SourceMisconfigured
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


def test_a_packed_tracking_ref_is_read_and_a_newer_loose_one_wins(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC_A})
    source = GitSource(remote.url, tmp_path / "work")
    root = source.fetch().root
    git(root, "pack-refs", "--all")  # what `git gc` does to the refs fetch wrote

    assert source.fetch().revision == remote.head()
    head = remote.commit({"specs/t/b.yaml": SPEC_B}, "add b")
    assert source.fetch().revision == head
    assert (root / "specs/t/b.yaml").read_text() == SPEC_B


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
