"""Watching a local repository: commits and spec edits ask for one cycle; reports,
Git internals and mere reads ask for none."""

from __future__ import annotations

import threading
import time
from pathlib import Path

import pytest

from reconciler.source import watch_repository
from reconciler.source.watch import RepositoryLayout
from tests.source.gitutil import git, make_remote

DEBOUNCE = 0.2


class _Calls:
    def __init__(self) -> None:
        self.count = 0
        self._event = threading.Event()

    def __call__(self) -> None:
        self.count += 1
        self._event.set()

    def wait(self, timeout: float = 5.0) -> bool:
        return self._event.wait(timeout)

    def settle(self) -> int:
        """The count once no more callbacks can be pending."""
        time.sleep(DEBOUNCE * 4)
        return self.count


@pytest.mark.parametrize(
    ("relative", "worktree", "expected"),
    [
        (".git/refs/heads/main", True, True),
        (".git/HEAD", True, True),
        (".git/packed-refs", True, True),
        (".git/refs/heads/main.lock", True, False),
        (".git/objects/ab/cdef", True, False),
        (".git/index", True, False),
        (".git/logs/HEAD", True, False),
        ("specs/t/a.yaml", True, True),
        ("specs/t/a.yaml", False, False),
        ("status/t/a.yaml", True, False),
        ("status", True, False),
        (".git/refs/heads/main", False, True),
    ],
)
def test_what_signals_a_change(
    tmp_path: Path, relative: str, worktree: bool, expected: bool
) -> None:
    (tmp_path / ".git").mkdir()
    layout = RepositoryLayout.of(tmp_path)
    assert layout.signals_change(str(tmp_path / relative), worktree=worktree) is expected


@pytest.mark.git
def test_bare_repository_layout(tmp_path: Path) -> None:
    git(tmp_path, "init", "--quiet", "--bare", "r.git")
    layout = RepositoryLayout.of(tmp_path / "r.git")
    assert layout.worktree is None
    assert layout.signals_change(str(tmp_path / "r.git/refs/heads/main"), worktree=True)
    assert not layout.signals_change(str(tmp_path / "r.git/objects/pack/x"), worktree=True)


@pytest.mark.git
def test_a_commit_triggers_one_debounced_callback(tmp_path: Path) -> None:
    repo = make_remote(tmp_path, {"specs/t/a.yaml": "a: 1\n"}).clone
    calls = _Calls()
    watcher = watch_repository(repo, calls, debounce=DEBOUNCE, worktree=False)
    try:
        (repo / "specs/t/a.yaml").write_text("a: 2\n")  # an edit alone: no commit yet
        git(repo, "add", "--all")
        assert calls.settle() == 0
        git(repo, "commit", "--quiet", "-m", "edit")
        assert calls.wait()
        assert calls.settle() == 1
    finally:
        watcher.stop()


@pytest.mark.git
def test_status_writes_and_reads_trigger_nothing(tmp_path: Path) -> None:
    repo = make_remote(tmp_path, {"specs/t/a.yaml": "a: 1\n"}).clone
    calls = _Calls()
    watcher = watch_repository(repo, calls, debounce=DEBOUNCE)
    try:
        (repo / "status/t").mkdir(parents=True)
        (repo / "status/t/a.yaml").write_text("phase: Running\n")
        git(repo, "log", "--oneline")
        git(repo, "cat-file", "-p", "HEAD")
        git(repo, "status")
        assert calls.settle() == 0
        (repo / "specs/t/b.yaml").write_text("b: 1\n")  # the work tree does count
        assert calls.wait()
    finally:
        watcher.stop()


@pytest.mark.git
def test_a_burst_of_edits_is_one_callback_and_stop_silences_it(tmp_path: Path) -> None:
    repo = make_remote(tmp_path, {"specs/t/a.yaml": "a: 1\n"}).clone
    calls = _Calls()
    watcher = watch_repository(repo, calls, debounce=DEBOUNCE)
    try:
        for n in range(20):
            (repo / f"specs/t/f{n}.yaml").write_text(f"n: {n}\n")
        assert calls.wait()
        assert calls.settle() == 1
    finally:
        watcher.stop()
    (repo / "specs/t/after.yaml").write_text("late\n")
    assert calls.settle() == 1


def test_a_failing_callback_does_not_end_the_watch(tmp_path: Path) -> None:
    (tmp_path / ".git").mkdir()
    calls = _Calls()
    failures = []

    def flaky() -> None:
        calls()
        if calls.count == 1:
            failures.append("raised")
            raise RuntimeError("first call fails")

    watcher = watch_repository(tmp_path, flaky, debounce=0.05)
    try:
        (tmp_path / "one.yaml").write_text("1\n")
        deadline = time.monotonic() + 5
        while calls.count < 1 and time.monotonic() < deadline:
            time.sleep(0.02)
        (tmp_path / "two.yaml").write_text("2\n")
        while calls.count < 2 and time.monotonic() < deadline:
            time.sleep(0.02)
    finally:
        watcher.stop()
    assert failures == ["raised"]
    assert calls.count == 2
