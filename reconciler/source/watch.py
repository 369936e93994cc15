"""Watch a local repository and ask for a cycle when its content or its branches move.

The daemon calls `watch_repository(path, request_cycle)` when `--repo` is a local path.
What counts as a change:
- a ref update: a commit, pull, reset or checkout rewrites `.git/refs/...`, `.git/HEAD`
  or `.git/packed-refs` (git writes `<ref>.lock` and renames it over the ref);
- with `worktree=True`, any file in the work tree outside `.git/` and outside `status/`
  (the reconciler's own reports are never input).
Everything else under `.git/` (objects, index, logs, lock files) is ignored, as are
open/close events, so the daemon reading the repository never triggers itself. Bursts
are debounced into one callback, run on a background thread.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path, PurePosixPath

from watchdog.events import FileSystemEvent, FileSystemEventHandler
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver

_log = logging.getLogger(__name__)

_CHANGE_EVENTS = frozenset({"created", "deleted", "modified", "moved"})
_MAX_WAIT_FACTOR = 10  # a steady stream of events still fires after 10 x debounce


@dataclass(frozen=True)
class RepositoryLayout:
    """Where a repository keeps its work tree and its Git data (absolute paths)."""

    worktree: Path | None  # None for a bare repository
    git_dirs: tuple[Path, ...]  # the git dir, plus the common dir of a linked worktree

    @classmethod
    def of(cls, path: Path) -> RepositoryLayout:
        root = path.resolve()
        dotgit = root / ".git"
        if dotgit.is_dir():
            return cls(worktree=root, git_dirs=(dotgit,))
        if dotgit.is_file():  # linked worktree or submodule: "gitdir: <path>"
            gitdir = _pointer(dotgit, "gitdir:", base=root)
            common = gitdir / "commondir"
            dirs = (gitdir, _pointer(common, "", base=gitdir)) if common.is_file() else (gitdir,)
            return cls(worktree=root, git_dirs=dirs)
        return cls(worktree=None, git_dirs=(root,))

    def signals_change(self, path: str, *, worktree: bool) -> bool:
        """Does a write to `path` mean the repository's content may have moved?"""
        target = Path(os.path.abspath(path))
        for git_dir in self.git_dirs:
            if target.is_relative_to(git_dir):
                return _is_ref_file(PurePosixPath(target.relative_to(git_dir).as_posix()))
        if not worktree or self.worktree is None or not target.is_relative_to(self.worktree):
            return False
        parts = target.relative_to(self.worktree).parts
        return bool(parts) and parts[0] not in (".git", "status")


class Watcher:
    """A running watch; `stop()` ends it and waits for its threads."""

    def __init__(self, observer: BaseObserver, debouncer: _Debouncer) -> None:
        self._observer = observer
        self._debouncer = debouncer

    def stop(self) -> None:
        self._debouncer.stop()
        self._observer.stop()
        self._observer.join(timeout=5)


def watch_repository(
    path: Path,
    on_change: Callable[[], None],
    *,
    debounce: float = 0.5,
    worktree: bool = True,
) -> Watcher:
    """Start watching `path` (a work tree or a bare repository); see the module docstring."""
    layout = RepositoryLayout.of(Path(path))
    debouncer = _Debouncer(debounce, on_change)
    handler = _Handler(layout, debouncer, worktree=worktree)
    observer = Observer()
    roots = {layout.worktree, *layout.git_dirs} - {None}
    for root in sorted(_outermost(roots)):
        observer.schedule(handler, str(root), recursive=True)
    observer.start()
    return Watcher(observer, debouncer)


class _Handler(FileSystemEventHandler):
    def __init__(self, layout: RepositoryLayout, debouncer: _Debouncer, *, worktree: bool) -> None:
        self._layout = layout
        self._debouncer = debouncer
        self._worktree = worktree

    def on_any_event(self, event: FileSystemEvent) -> None:
        if event.event_type not in _CHANGE_EVENTS:
            return
        if event.is_directory and event.event_type == "modified":
            return  # the change inside the directory arrives as its own event
        paths = [event.src_path, event.dest_path] if event.dest_path else [event.src_path]
        if any(self._layout.signals_change(os.fsdecode(p), worktree=self._worktree) for p in paths):
            self._debouncer.poke()


class _Debouncer:
    """Calls `action` once `delay` seconds after the last poke (at most MAX_WAIT_FACTOR x
    `delay` after the first poke of a burst)."""

    def __init__(self, delay: float, action: Callable[[], None]) -> None:
        self._delay = delay
        self._action = action
        self._lock = threading.Lock()
        self._timer: threading.Timer | None = None
        self._burst_started = 0.0
        self._stopped = False

    def poke(self) -> None:
        with self._lock:
            if self._stopped:
                return
            now = time.monotonic()
            if self._timer is None:
                self._burst_started = now
            else:
                self._timer.cancel()
            deadline = self._burst_started + self._delay * _MAX_WAIT_FACTOR
            self._timer = threading.Timer(max(0.0, min(self._delay, deadline - now)), self._fire)
            self._timer.name = "thunderline-watch-debounce"
            self._timer.daemon = True
            self._timer.start()

    def stop(self) -> None:
        with self._lock:
            self._stopped = True
            if self._timer is not None:
                self._timer.cancel()

    def _fire(self) -> None:
        with self._lock:
            if self._stopped or threading.current_thread() is not self._timer:
                return  # superseded by a later poke, or stopped
            self._timer = None
        try:
            self._action()
        except Exception:  # the watch must outlive a failing callback
            _log.exception("repository change callback failed")


def _is_ref_file(relative: PurePosixPath) -> bool:
    if relative.suffix == ".lock":
        return False
    text = relative.as_posix()
    return text in ("HEAD", "packed-refs") or text.startswith("refs/")


def _pointer(file: Path, prefix: str, *, base: Path) -> Path:
    target = file.read_text(encoding="utf-8").strip().removeprefix(prefix).strip()
    return (base / target).resolve()


def _outermost(roots: set[Path | None]) -> set[Path]:
    paths = {p for p in roots if p is not None}
    return {p for p in paths if not any(p != q and p.is_relative_to(q) for q in paths)}
