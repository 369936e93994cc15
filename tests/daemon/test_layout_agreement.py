"""`reconciler validate` (a work tree) and the daemon (Git objects, incrementally) agree on
which paths are specs and which are errors, for every odd layout a repository can hold."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.daemon.desired import WORKTREE_EXCLUDES, DesiredCache
from reconciler.model import DesiredState
from reconciler.source import GitSource
from reconciler.specs import load_repo
from tests.source.gitutil import git, make_remote
from tests.specs.conftest import minimal_document

pytestmark = pytest.mark.git

ODD = {
    "specs/acme/good.yaml": minimal_document(name="good"),
    "specs/acme/also.yml": minimal_document(name="also"),
    "specs/acme/renamed.yaml": minimal_document(name="other"),  # name differs from the file
    "specs/acme/.yaml": minimal_document(name="hidden"),
    "specs/acme/.draft.yaml": minimal_document(name="draft"),
    "specs/acme/shout.YAML": minimal_document(name="shout"),
    "specs/acme/team/nested.yaml": minimal_document(name="nested"),
    "specs/acme/.drafts/deep.yaml": minimal_document(name="deep"),
    "specs/loose.yaml": minimal_document(name="loose"),
    "specs/Bad_Tenant/x.yaml": minimal_document(tenant="Bad_Tenant", name="x"),
    "specs/acme/broken.yaml": "metadata: [\n",
    "specs/acme/README.md": "not a spec",
    "specs/acme/.gitkeep": "",
    "shared/linked.yaml": minimal_document(name="linked"),
}


def summary(state: DesiredState) -> tuple[list[str], list[str]]:
    """(valid federations, files with problems)."""
    return sorted(str(k) for k in state.specs), sorted(state.problems)


def daemon_view(tmp: Path, url: str) -> DesiredState:
    source = GitSource(url, tmp / "daemon-checkout", sparse_excludes=WORKTREE_EXCLUDES)
    return DesiredCache().refresh(source, source.fetch().revision)


def test_validate_and_the_daemon_see_the_same_specs_and_the_same_errors(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, ODD)
    clone = remote.clone
    (clone / "specs/acme/link.yaml").symlink_to("../../shared/linked.yaml")
    (clone / "specs/acme/folder").symlink_to("../../shared", target_is_directory=True)
    (clone / "specs/acme/notes.md").symlink_to("README.md")  # a linked README: not a spec
    vendored = clone / "specs/acme/vendored"
    vendored.mkdir()
    (vendored / "inside.yaml").write_text(minimal_document(name="inside"))
    git(vendored, "init", "--quiet", "--initial-branch=main")
    git(vendored, "add", "--all")
    git(vendored, "commit", "--quiet", "-m", "a repository inside the spec repository")
    git(clone, "add", "--all")  # the inner repository is committed as a gitlink
    git(clone, "commit", "--quiet", "-m", "links and a submodule")
    git(clone, "push", "--quiet", "origin", "main")

    validate = load_repo(clone)
    daemon = daemon_view(tmp_path, remote.url)

    assert summary(validate) == summary(daemon)
    specs, problems = summary(daemon)
    assert specs == ["acme/also", "acme/good"]
    assert problems == sorted(
        [
            "specs/acme/renamed.yaml",
            "specs/acme/.yaml",
            "specs/acme/.draft.yaml",
            "specs/acme/shout.YAML",
            "specs/acme/team/nested.yaml",
            "specs/acme/.drafts/deep.yaml",
            "specs/loose.yaml",
            "specs/Bad_Tenant/x.yaml",
            "specs/acme/broken.yaml",
            "specs/acme/link.yaml",
            "specs/acme/folder",
            "specs/acme/vendored",
        ]
    )
    assert validate.claimed == daemon.claimed  # what each broken file still claims


def test_they_agree_again_after_files_move_in_and_out_of_the_layout(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, ODD)
    source = GitSource(remote.url, tmp_path / "daemon-checkout", sparse_excludes=WORKTREE_EXCLUDES)
    cache = DesiredCache()
    cache.refresh(source, source.fetch().revision)  # the incremental loader from here on
    remote.commit(
        {
            "specs/acme/renamed.yaml": None,
            "specs/acme/other.yaml": minimal_document(name="other"),  # fixed by a rename
            "specs/acme/team/nested.yaml": None,
            "specs/acme/nested.yaml": minimal_document(name="nested"),  # moved up
            "specs/acme/good.yaml": None,
            "specs/acme/good/again.yaml": minimal_document(name="again"),  # moved down
        },
        "move files",
    )

    daemon = cache.refresh(source, source.fetch().revision)

    assert summary(daemon) == summary(load_repo(remote.clone))
    assert "acme/other" in summary(daemon)[0] and "acme/nested" in summary(daemon)[0]
    assert "specs/acme/good/again.yaml" in daemon.problems
