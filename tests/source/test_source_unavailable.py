"""A remote that is down keeps the last checkout and says so, naming no credentials."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

from reconciler.source import GitSource, SourceUnavailable
from tests.source.gitutil import GitDaemon, make_remote

pytestmark = pytest.mark.git

SPEC = "kind: FederationSpec\nmetadata: {name: a}\n"


def test_remote_moved_away_keeps_the_previous_checkout(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC})
    source = GitSource(remote.url, tmp_path / "work")
    good = source.fetch()
    hidden = remote.bare.with_name("hidden.git")
    remote.bare.rename(hidden)

    for _ in range(3):  # several cycles in a row
        with pytest.raises(SourceUnavailable, match="cannot fetch branch 'main' from file://"):
            source.fetch()

    assert source.revision == good.revision
    assert (good.root / "specs/t/a.yaml").read_text() == SPEC
    hidden.rename(remote.bare)
    assert source.fetch().revision == good.revision


def test_missing_branch_is_unavailable_not_empty(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC})

    with pytest.raises(SourceUnavailable, match="'release'"):
        GitSource(remote.url, tmp_path / "work", branch="release").fetch()


def test_git_daemon_stopped_then_back(tmp_path: Path, git_daemon: GitDaemon) -> None:
    remote = make_remote(tmp_path, {"specs/t/a.yaml": SPEC})
    shutil.copytree(remote.bare, git_daemon.base / "specs.git")
    url = git_daemon.url("specs.git")
    source = GitSource(url, tmp_path / "work", timeout=20)
    good = source.fetch()
    assert good.revision == remote.head()

    git_daemon.stop()
    for _ in range(2):
        with pytest.raises(SourceUnavailable, match=re.escape(f"from {url}")) as caught:
            source.fetch()
        assert "Connection refused" in str(caught.value)
    assert source.revision == good.revision
    assert (good.root / "specs/t/a.yaml").read_text() == SPEC

    git_daemon.start()
    assert source.fetch().revision == good.revision


def test_credentials_in_the_url_never_reach_the_message(tmp_path: Path) -> None:
    source = GitSource("http://reader:s3cret-token@127.0.0.1:9/none.git", tmp_path / "work")

    with pytest.raises(SourceUnavailable) as caught:
        source.fetch()

    assert "s3cret-token" not in str(caught.value)
    assert "reader" not in str(caught.value)
    assert "http://127.0.0.1:9/none.git" in str(caught.value)
    config = (tmp_path / "work/.git/config").read_text()
    assert "s3cret-token" not in config
