"""A report's Revision is the commit that last changed the spec file, asked of a real Git
checkout: never the daemon's own status commit, and said so when a shallow checkout
cannot tell."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.notify.revisions import SpecCommits
from reconciler.report import render_status
from reconciler.source import GitSource
from tests.report.builders import status
from tests.source.gitutil import make_remote

SPEC = "specs/acme/digits.yaml"
PAGE = "status/team-a/coop-chat.md"


@pytest.fixture
def remote_with_a_status_commit(tmp_path: Path) -> tuple[str, str, str]:
    """(remote url, the spec's commit, the head: a status commit on top)."""
    remote = make_remote(tmp_path, {"specs/acme/other.yaml": "a: 1\n"})
    spec_commit = remote.commit({SPEC: "kind: FederationSpec\n"}, "spec: digits")
    head = remote.commit({"status/README.md": "# Federation status\n"}, "status: written")
    return remote.url, spec_commit, head


def test_the_revision_is_the_spec_files_commit_not_the_status_head(
    tmp_path: Path, remote_with_a_status_commit: tuple[str, str, str]
) -> None:
    url, spec_commit, head = remote_with_a_status_commit
    source = GitSource(url, tmp_path / "full", depth=None)
    assert source.fetch().revision == head
    found = SpecCommits(source.last_change).find(SPEC, head)
    assert (found.commit, found.known) == (spec_commit, True)
    page = render_status([status(revision=found.commit, revision_known=found.known)])[PAGE]
    assert f"- **Revision:** `{spec_commit[:12]}`\n" in page


def test_a_shallow_checkout_says_it_cannot_tell_and_never_names_the_cut_as_the_change(
    tmp_path: Path, remote_with_a_status_commit: tuple[str, str, str]
) -> None:
    url, spec_commit, head = remote_with_a_status_commit
    source = GitSource(url, tmp_path / "shallow", depth=1)
    assert source.fetch().revision == head
    commits = SpecCommits(source.last_change)
    found = commits.find(SPEC, head)
    assert (found.commit, found.known) == (head, False)
    assert commits(SPEC, head) == head  # notify's use: the loaded revision
    page = render_status([status(revision=found.commit, revision_known=found.known)])[PAGE]
    assert f"- **Revision:** `{head[:12]}` (loaded at; the checkout is too shallow" in page
    assert spec_commit[:12] not in page  # not fetched: git cannot name it, nor do we guess
