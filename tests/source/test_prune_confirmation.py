"""Which commits can confirm a held mass deletion: only those since specs/ last changed."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.source import GitSource, RevisionNotFound
from reconciler.source.confirm import revision_confirmation, trailer_confirmation
from tests.source.gitutil import git

pytestmark = pytest.mark.git

CONFIRM = "\n\nThunderline-Prune: confirm"


class Repo:
    def __init__(self, root: Path) -> None:
        self.root = root
        git(root.parent, "init", "--quiet", "--initial-branch=main", str(root))

    def commit(self, message: str, files: dict[str, str | None] | None = None) -> str:
        for path, text in (files or {}).items():
            target = self.root / path
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        git(self.root, "add", "--all")
        git(self.root, "commit", "--quiet", "--allow-empty", "-m", message)
        return git(self.root, "rev-parse", "HEAD")


@pytest.fixture
def repo(tmp_path: Path) -> Repo:
    r = Repo(tmp_path / "repo")
    r.commit("specs", {"specs/acme/a.yaml": "a", "specs/acme/b.yaml": "b"})
    return r


def test_no_trailer_no_confirmation(repo: Repo) -> None:
    head = repo.commit("delete", {"specs/acme/a.yaml": None})

    assert trailer_confirmation(repo.root, head) is None


def test_the_deleting_commit_or_a_later_one_confirms(repo: Repo) -> None:
    deleting = repo.commit("delete" + CONFIRM, {"specs/acme/a.yaml": None})
    assert trailer_confirmation(repo.root, deleting) == deleting
    repo.commit("status", {"status/acme/a.yaml": "x"})  # the daemon's own commit on top
    later = repo.commit("unrelated", {"README.md": "x"})
    assert trailer_confirmation(repo.root, later) == deleting


def test_an_empty_commit_after_the_deletion_confirms(repo: Repo) -> None:
    repo.commit("delete", {"specs/acme/a.yaml": None})
    repo.commit("status", {"status/acme/a.yaml": "x"})
    confirming = repo.commit("ok, go" + CONFIRM)

    assert trailer_confirmation(repo.root, confirming) == confirming


def test_the_next_change_to_specs_starts_over(repo: Repo) -> None:
    repo.commit("delete" + CONFIRM, {"specs/acme/a.yaml": None})
    head = repo.commit("delete more", {"specs/acme/b.yaml": None})

    assert trailer_confirmation(repo.root, head) is None


def test_a_trailer_on_a_merged_branch_counts(repo: Repo) -> None:
    git(repo.root, "checkout", "--quiet", "-b", "retire")
    on_branch = repo.commit("retire a" + CONFIRM, {"specs/acme/a.yaml": None})
    git(repo.root, "checkout", "--quiet", "main")
    repo.commit("meanwhile", {"README.md": "x"})
    git(repo.root, "merge", "--quiet", "--no-ff", "-m", "Merge retire", "retire")
    merge = git(repo.root, "rev-parse", "HEAD")

    assert trailer_confirmation(repo.root, merge) == on_branch


def test_the_trailer_key_is_case_insensitive_and_the_value_must_be_confirm(repo: Repo) -> None:
    repo.commit("delete", {"specs/acme/a.yaml": None})
    yes = repo.commit("x\n\nthunderline-prune: Confirm")
    assert trailer_confirmation(repo.root, yes) == yes
    repo.commit("again", {"specs/acme/b.yaml": None})
    no = repo.commit("x\n\nThunderline-Prune: maybe")
    assert trailer_confirmation(repo.root, no) is None


def test_a_shallow_clone_reads_what_it_has(repo: Repo, tmp_path: Path) -> None:
    repo.commit("delete", {"specs/acme/a.yaml": None})
    repo.commit("confirm" + CONFIRM)
    shallow = tmp_path / "shallow"
    git(tmp_path, "clone", "--quiet", "--depth=1", f"file://{repo.root}", str(shallow))
    head = git(shallow, "rev-parse", "HEAD")

    assert trailer_confirmation(shallow, head) == head


def test_revision_confirmation_holds_while_specs_is_unchanged(repo: Repo) -> None:
    deleting = repo.commit("delete", {"specs/acme/a.yaml": None})
    status = repo.commit("status", {"status/acme/a.yaml": "x"})
    assert revision_confirmation(repo.root, status, deleting) == (True, "")
    moved = repo.commit("more", {"specs/acme/b.yaml": None})

    ok, why = revision_confirmation(repo.root, moved, deleting)
    assert not ok and "stale" in why
    ok, why = revision_confirmation(repo.root, moved, "f" * 40)
    assert not ok and "not in the daemon's checkout" in why


def test_the_git_source_says_how_it_was_confirmed(repo: Repo, tmp_path: Path) -> None:
    deleting = repo.commit("delete", {"specs/acme/a.yaml": None})
    source = GitSource(f"file://{repo.root}", tmp_path / "checkout")
    head = source.fetch().revision

    assert source.prune_confirmation(head) is None
    assert source.prune_confirmation(head, deleting) == f"--prune-confirm {deleting}"
    assert source.prune_confirmation(head, "no-such-rev") is None
    with pytest.raises(RevisionNotFound):
        source.prune_confirmation("f" * 40)
