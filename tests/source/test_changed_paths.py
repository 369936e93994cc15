"""Which spec files changed between two revisions, and reading files at a revision."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.source import ChangeSet, GitSource, RevisionNotFound, diff_blob_ids, read_files_at
from reconciler.source.trees import entries_at, entries_changed
from tests.source.gitutil import Remote, git, make_remote

SPEC = "kind: FederationSpec\nmetadata: {{name: {name}}}\n"


def _remote(tmp_path: Path) -> Remote:
    return make_remote(
        tmp_path,
        {
            "specs/t/keep.yaml": SPEC.format(name="keep"),
            "specs/t/edit.yaml": SPEC.format(name="edit"),
            "specs/t/gone.yaml": SPEC.format(name="gone"),
            "README.md": "hello\n",
        },
    )


@pytest.mark.git
def test_added_modified_deleted_under_specs_only(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    source = GitSource(remote.url, tmp_path / "work")  # depth 1: both commits shallow
    old = source.fetch().revision
    remote.commit(
        {
            "specs/t/edit.yaml": SPEC.format(name="edited"),
            "specs/t/gone.yaml": None,
            "specs/u/new.yaml": SPEC.format(name="new"),
            "README.md": "changed outside specs\n",
            "status/t/keep.yaml": "phase: Running\n",
        }
    )
    new = source.fetch().revision

    changes = source.changed_paths(old, new)

    assert changes == ChangeSet(
        added=("specs/u/new.yaml",),
        modified=("specs/t/edit.yaml",),
        deleted=("specs/t/gone.yaml",),
    )
    assert changes.changed == ("specs/t/edit.yaml", "specs/u/new.yaml")


@pytest.mark.git
def test_no_old_revision_means_everything_is_added(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    source = GitSource(remote.url, tmp_path / "work")
    head = source.fetch().revision

    changes = source.changed_paths(None, head)

    assert changes.complete
    assert changes.added == ("specs/t/edit.yaml", "specs/t/gone.yaml", "specs/t/keep.yaml")
    assert not source.changed_paths(head, head)


@pytest.mark.git
def test_old_revision_never_fetched_asks_for_a_full_reload(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    unseen = remote.commit({"specs/t/edit.yaml": SPEC.format(name="v2")})
    remote.commit({"specs/t/edit.yaml": SPEC.format(name="v3")})
    source = GitSource(remote.url, tmp_path / "work")  # shallow: `unseen` never arrives
    head = source.fetch().revision

    changes = source.changed_paths(unseen, head)

    assert not changes.complete
    assert bool(changes)
    assert changes.added == ("specs/t/edit.yaml", "specs/t/gone.yaml", "specs/t/keep.yaml")


@pytest.mark.git
def test_files_at_an_older_revision_without_touching_the_work_tree(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    source = GitSource(remote.url, tmp_path / "work")
    old = source.fetch().revision
    new_text = SPEC.format(name="edited")
    new = remote.commit({"specs/t/edit.yaml": new_text})
    root = source.fetch().root

    at_old = source.read_files(old)

    assert at_old["specs/t/edit.yaml"] == SPEC.format(name="edit").encode()
    assert set(at_old) == {"specs/t/edit.yaml", "specs/t/gone.yaml", "specs/t/keep.yaml"}
    assert (root / "specs/t/edit.yaml").read_text() == new_text
    ids_old, ids_new = source.blob_ids(old), source.blob_ids(new)
    assert diff_blob_ids(ids_old, ids_new) == ChangeSet(modified=("specs/t/edit.yaml",))


@pytest.mark.git
def test_read_files_at_a_users_own_clone_by_branch_name(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    remote.commit({"specs/t/keep.yaml": SPEC.format(name="v2")})

    files = read_files_at(remote.clone, "HEAD~1", "specs/")

    assert files["specs/t/keep.yaml"] == SPEC.format(name="keep").encode()
    with pytest.raises(RevisionNotFound):
        read_files_at(remote.clone, "no-such-branch")
    with pytest.raises(RevisionNotFound):
        read_files_at(remote.clone, "--output=/tmp/x")


@pytest.mark.git
def test_symlinks_and_non_files_are_not_specs(tmp_path: Path) -> None:
    remote = _remote(tmp_path)
    source = GitSource(remote.url, tmp_path / "work")
    old = source.fetch().revision
    os.symlink("keep.yaml", remote.clone / "specs/t/link.yaml")
    git(remote.clone, "add", "--all")
    git(remote.clone, "commit", "--quiet", "-m", "symlink")
    git(remote.clone, "push", "--quiet", "origin", "main")
    new = source.fetch().revision

    assert "specs/t/link.yaml" not in source.read_files(new)
    assert not source.changed_paths(old, new)


@pytest.mark.parametrize(
    ("old", "new", "expected"),
    [
        ({}, {"a": "1"}, ChangeSet(added=("a",))),
        ({"a": "1"}, {"a": "2"}, ChangeSet(modified=("a",))),
        ({"a": "1", "b": "1"}, {"b": "1"}, ChangeSet(deleted=("a",))),
        ({"a": "1"}, {"a": "1"}, ChangeSet()),
    ],
)
def test_diff_of_blob_id_maps(
    old: dict[str, str], new: dict[str, str], expected: ChangeSet
) -> None:
    assert diff_blob_ids(old, new) == expected


@pytest.mark.git
def test_entries_moved_by_a_diff_equal_a_fresh_listing(tmp_path: Path) -> None:
    """The daemon keeps what specs/ holds and applies each commit's diff to it: after adds,
    edits, deletions and a file swapped for a symlink and back, it equals a full listing."""
    remote = _remote(tmp_path)
    source = GitSource(remote.url, tmp_path / "work", depth=None)
    clone = remote.clone
    steps = [
        lambda: remote.commit({"specs/t/edit.yaml": "changed\n", "specs/u/new.yaml": "n\n"}),
        lambda: remote.commit({"specs/t/gone.yaml": None}),
        lambda: _commit_link(clone, "specs/t/keep.yaml", "edit.yaml"),
        lambda: _commit_file(clone, "specs/t/keep.yaml", "a file again\n"),
    ]
    before = source.fetch().revision
    entries = entries_at(source.workdir, before)
    for step in steps:
        step()
        after = source.fetch().revision
        entries = entries_changed(
            source.workdir,
            entries,
            str(source.tree_id(before, "specs")),
            str(source.tree_id(after, "specs")),
            "specs/",
        )
        assert entries == entries_at(source.workdir, after)
        before = after
    assert entries.others == {} and "specs/t/keep.yaml" in entries.files


def _commit_link(clone: Path, path: str, target: str) -> None:
    git(clone, "pull", "--quiet", "--rebase", "origin", "main")
    (clone / path).unlink()
    os.symlink(target, clone / path)
    _push_all(clone, f"{path} becomes a link")


def _commit_file(clone: Path, path: str, text: str) -> None:
    git(clone, "pull", "--quiet", "--rebase", "origin", "main")
    (clone / path).unlink()  # the link itself: never write through it
    (clone / path).write_text(text)
    _push_all(clone, f"{path} is a file again")


def _push_all(clone: Path, message: str) -> None:
    git(clone, "add", "-A")
    git(clone, "commit", "--quiet", "-m", message)
    git(clone, "push", "--quiet", "origin", "HEAD:main")
