"""StatusWriter against real remotes: one commit per change, only under status/, never
forced, surviving a person's concurrent push."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any
from unittest import mock

import pytest

from reconciler.report import (
    StatusPathRefused,
    StatusPushFailed,
    StatusWriter,
    render_status,
)
from reconciler.report import render as render_module
from reconciler.report.render import CachedRenderer
from reconciler.source import GitSource
from tests.report.builders import status
from tests.source.gitutil import GitDaemon, Remote, git, make_remote

pytestmark = pytest.mark.git

SPECS = {"specs/team-a/coop-chat.yaml": "kind: FederationSpec\n", "README.md": "repo\n"}


def _writer(tmp_path: Path, remote: Remote, **options: Any) -> StatusWriter:
    return StatusWriter(tmp_path / "status-work", remote=remote.url, **options)


def _log(remote: Remote, branch: str = "main") -> list[str]:
    return git(remote.bare, "log", "--format=%an|%s", branch).splitlines()


def test_one_commit_when_something_changed_none_otherwise(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    user_head = remote.head()
    writer = _writer(tmp_path, remote, author_name="Status Bot", author_email="bot@x.invalid")
    files = render_status([status()])

    sha = writer.write(files, message="status: cycle 1")

    assert sha == remote.head()
    assert git(remote.bare, "rev-parse", f"{sha}^") == user_head
    assert _log(remote)[0] == "Status Bot|status: cycle 1"
    assert remote.show(sha, "status/team-a/coop-chat.yaml") == files[
        "status/team-a/coop-chat.yaml"
    ].rstrip("\n")
    assert writer.write(files, message="status: cycle 2") is None
    assert remote.head() == sha


def test_nothing_outside_status_is_ever_changed(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    base = remote.head()
    writer = _writer(tmp_path, remote)
    writer.write(render_status([status(name="a"), status(name="b")]), message="one")
    head = writer.write(render_status([status(name="a")]), message="two")

    changed = git(remote.bare, "diff", "--name-only", base, str(head)).splitlines()

    assert changed and all(p.startswith("status/") for p in changed)
    assert remote.show(str(head), "README.md") == "repo"


def test_reports_of_federations_that_are_gone_are_removed(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    writer = _writer(tmp_path, remote)
    writer.write(render_status([status(name="a"), status(name="b")]), message="both")

    writer.write(render_status([status(name="a")]), message="b is gone")
    after_removal = remote.files_at("main")
    writer.write({"status/extra.md": "kept alongside\n"}, message="add", remove_missing=False)

    assert "status/team-a/b.yaml" not in after_removal
    assert "status/team-a/a.yaml" in after_removal
    assert {"status/extra.md", "status/team-a/a.yaml"} <= remote.files_at("main")


@pytest.mark.parametrize(
    "path",
    ["specs/team-a/x.yaml", "status/../specs/x.yaml", "/etc/passwd", "status/", "status/a b.md",
     "status//a.md", "status/./a.md", "README.md"],
)  # fmt: skip
def test_paths_outside_status_are_refused_and_nothing_is_pushed(tmp_path: Path, path: str) -> None:
    remote = make_remote(tmp_path, SPECS)
    head = remote.head()

    with pytest.raises(StatusPathRefused):
        _writer(tmp_path, remote).write({"status/ok.md": "ok\n", path: "x\n"}, message="m")
    assert remote.head() == head


def test_status_branch_is_created_from_the_spec_branch_which_stays_untouched(
    tmp_path: Path,
) -> None:
    remote = make_remote(tmp_path, SPECS)
    spec_head = remote.head()
    writer = _writer(tmp_path, remote, status_branch="reconciler-status")

    first = writer.write(render_status([status()]), message="first")
    second = writer.write(render_status([status(current_round=3)]), message="second")

    assert remote.head() == spec_head
    assert remote.head("reconciler-status") == second
    assert git(remote.bare, "rev-parse", f"{second}^") == first
    assert git(remote.bare, "rev-parse", f"{first}^") == spec_head


def test_a_person_pushing_during_the_status_push_both_survive(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    writer = _writer(tmp_path, remote)
    writer.write(render_status([status()]), message="first")  # creates the writer's repo
    marker = tmp_path / "raced"
    hook = tmp_path / "status-work/hooks/pre-push"
    # Runs after the remote advertised its head and before our update reaches it.
    hook.write_text(
        "#!/bin/sh\n"
        "unset GIT_DIR GIT_WORK_TREE GIT_INDEX_FILE\n"
        f"[ -e {marker} ] && exit 0\n"
        f"touch {marker}\n"
        f"cd {remote.clone} && git pull -q --rebase origin main"
        " && echo 'user: 1' > specs/team-a/user.yaml && git add -A"
        " && git commit -qm 'person: add a spec' && git push -q origin HEAD:main\n"
    )
    hook.chmod(0o755)
    sleeps: list[float] = []
    writer = _writer(tmp_path, remote, sleep=sleeps.append)

    sha = writer.write(render_status([status(current_round=3)]), message="second")

    assert marker.exists() and len(sleeps) == 1  # the first push really was rejected
    person = git(remote.clone, "rev-parse", "HEAD")
    assert sha == remote.head()
    assert git(remote.bare, "rev-parse", f"{sha}^") == person
    assert "specs/team-a/user.yaml" in remote.files_at("main")
    assert "current: 3" in remote.show("main", "status/team-a/coop-chat.yaml")


def test_remote_that_moved_between_cycles_is_built_upon(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    writer = _writer(tmp_path, remote)
    writer.write(render_status([status()]), message="first")
    person = remote.commit({"specs/team-a/other.yaml": "kind: FederationSpec\n"})

    sha = writer.write(render_status([status(current_round=4)]), message="second")

    assert git(remote.bare, "rev-parse", f"{sha}^") == person


def test_remote_down_fails_after_bounded_retries(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    sleeps: list[float] = []
    writer = _writer(tmp_path, remote, retry_delays=(0.1, 0.2, 0.4), sleep=sleeps.append)
    remote.bare.rename(tmp_path / "elsewhere.git")

    with pytest.raises(StatusPushFailed, match="after 4 attempts"):
        writer.write(render_status([status()]), message="m")
    assert len(sleeps) == 3
    assert all(0.05 <= s <= 0.6 for s in sleeps)


def test_a_refusing_remote_is_named_with_its_reason(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    writer = StatusWriter(tmp_path / "w", remote=str(remote.clone), retry_delays=(0.01,))

    with pytest.raises(StatusPushFailed, match=r"after 2 attempts: .*currently checked out"):
        writer.write(render_status([status()]), message="m")  # a non-bare repo on main


def test_push_through_git_daemon(tmp_path: Path, git_daemon: GitDaemon) -> None:
    remote = make_remote(tmp_path, SPECS)
    served = git_daemon.base / "specs.git"
    shutil.copytree(remote.bare, served)
    writer = StatusWriter(tmp_path / "status-work", remote=git_daemon.url("specs.git"))

    sha = writer.write(render_status([status()]), message="via daemon")

    assert git(served, "rev-parse", "main") == sha
    git_daemon.stop()
    with pytest.raises(StatusPushFailed, match=re.escape(git_daemon.url("specs.git"))):
        StatusWriter(
            tmp_path / "status-work", remote=git_daemon.url("specs.git"), retry_delays=(0.01,)
        ).write(render_status([status(current_round=5)]), message="down")


def test_own_status_commits_change_no_spec(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    source = GitSource(remote.url, tmp_path / "source-work")
    before = source.fetch().revision
    _writer(tmp_path, remote).write(render_status([status()]), message="status")

    after = source.fetch().revision

    assert after != before
    assert not source.changed_paths(before, after, under="specs/")


def test_a_persons_edit_under_status_is_corrected_even_when_nothing_changed(
    tmp_path: Path,
) -> None:
    """The writer remembers the status/ tree it committed and skips listing it; a tree
    someone else changed is listed again, so their edit is overwritten, never kept."""
    remote = make_remote(tmp_path, SPECS)
    writer = _writer(tmp_path, remote)
    files = render_status([status(name="a"), status(name="b")])
    writer.write(files, message="ours")
    remote.commit({"status/team-a/a.yaml": "tampered\n", "status/team-a/b.md": None}, "edit")
    sha = writer.write(files, message="ours again")
    assert sha is not None and sha == remote.head()
    assert remote.show(sha, "status/team-a/a.yaml") == files["status/team-a/a.yaml"].rstrip("\n")
    assert "status/team-a/b.md" in remote.files_at(sha)
    assert writer.write(files, message="quiet") is None


def test_cached_renderer_files_restore_an_edited_file_from_the_status_alone(
    tmp_path: Path,
) -> None:
    """The daemon's renderer keeps blob ids, not texts: a file a person changed is rendered
    again from its status when the writer finds the branch lacks it, and only that one."""
    remote = make_remote(tmp_path, SPECS)
    writer = _writer(tmp_path, remote)
    render = CachedRenderer()
    statuses = [status(name="a"), status(name="b")]
    writer.write(render(statuses), message="ours")
    remote.commit({"status/team-a/a.yaml": "tampered\n"}, "edit")

    files = render(statuses)
    with mock.patch.object(render_module, "render_yaml", wraps=render_module.render_yaml) as yml:
        sha = writer.write(files, message="ours again")

    assert sha is not None
    expected = render_status(statuses)["status/team-a/a.yaml"]
    assert remote.show(sha, "status/team-a/a.yaml") == expected.rstrip("\n")
    assert [c.args[0].key.name for c in yml.call_args_list] == ["a"]


def test_a_branch_still_at_our_last_commit_is_not_fetched_again(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    writer = _writer(tmp_path, remote)
    first = writer.write(render_status([status()]), message="first")
    with mock.patch.object(writer, "_fetch_base", wraps=writer._fetch_base) as fetched:
        second = writer.write(render_status([status(current_round=7)]), message="second")
        assert fetched.call_count == 0
        remote.commit({"specs/team-a/other.yaml": "kind: FederationSpec\n"})
        third = writer.write(render_status([status(current_round=8)]), message="third")
        assert fetched.call_count == 1  # refused on our last commit: fetched, built upon
    assert git(remote.bare, "rev-parse", f"{second}^") == first
    assert third == remote.head() and "current: 8" in remote.show(
        "main", "status/team-a/coop-chat.yaml"
    )


def test_a_head_the_caller_saw_move_skips_building_on_our_last_commit(tmp_path: Path) -> None:
    remote = make_remote(tmp_path, SPECS)
    writer = _writer(tmp_path, remote)
    writer.write(render_status([status()]), message="first")
    person = remote.commit({"specs/team-a/other.yaml": "kind: FederationSpec\n"})
    with mock.patch.object(writer, "_commit_on", wraps=writer._commit_on) as built:
        sha = writer.write(render_status([status(current_round=7)]), message="m", seen_head=person)
    assert [c.args[0] for c in built.call_args_list] == [person]  # built once, on their head
    assert git(remote.bare, "rev-parse", f"{sha}^") == person
