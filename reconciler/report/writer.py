"""Commit rendered status files to the repository and push them, surviving concurrent pushes.

The daemon's report step calls `StatusWriter.write(render_status(...), message=...)` once
per cycle. The writer keeps its own bare repository in `repo_dir`, separate from the
source checkout the specs are read from, and never needs a work tree: each attempt
fetches the target branch head (depth 1), builds one commit on top of it that changes
only files under `status/` (`git fast-import`), and pushes it as a fast-forward. When the
push is rejected because the remote moved, it fetches the new head and re-applies the same
files there (no rebase, so no conflict is possible), with jittered backoff, a bounded
number of times. It never force-pushes and never changes a path outside `status/`.
"""

from __future__ import annotations

import contextlib
import random
import re
import threading
import time
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from pathlib import Path

from reconciler.faults import fault_point
from reconciler.model import FederationKey, Phase
from reconciler.report.files import StatusFiles, blob_id
from reconciler.report.model import FederationStatus
from reconciler.source.command import GitFailed, run_git
from reconciler.source.errors import SourceError
from reconciler.source.remote import GitRemote
from reconciler.source.trees import blob_ids_at

STATUS_PREFIX = "status/"
_PENDING_REF = "refs/thunderline/status-commit"
_BASE_REF = "refs/remotes/status/{branch}"
# Status commits are rewritten every cycle and the index page lists every federation
# (1.5 MB at 10,000): fast zlib, and no delta search against its previous version when
# pushing, which cost more than sending it whole (push ~55 -> ~25 ms at 10,000).
_REPOSITORY_CONFIG = {
    "core.compression": "1",
    "pack.window": "0",
    "core.bigFileThreshold": "256k",
}
MESSAGE_CHARS = 100  # a status commit's subject, at most
_ROUNDS_SHOWN = frozenset({Phase.STARTING, Phase.RUNNING, Phase.PAUSED})
_SAFE_PATH = re.compile(r"status/(?:[A-Za-z0-9_-][A-Za-z0-9._-]*/)*[A-Za-z0-9_-][A-Za-z0-9._-]*")


def status_message(
    changed: Iterable[FederationStatus], removed: Iterable[FederationKey] = ()
) -> str:
    """A status commit's subject naming what changed, by federation: `status: acme/digits
    Running round 3/5; globex/x Completed`, cut to MESSAGE_CHARS with `and N more`."""
    parts = [_change(s) for s in sorted(changed, key=lambda s: s.key)]
    parts += [f"{key} removed" for key in sorted(removed)]
    if not parts:
        return "status: files restored"  # nothing changed but the branch lacked some
    text = "status: " + parts[0]
    for shown, part in enumerate(parts[1:], start=1):
        more = f"; and {len(parts) - shown} more"
        last = shown == len(parts) - 1
        if len(text) + 2 + len(part) + (0 if last else len(more)) > MESSAGE_CHARS:
            return text + more
        text += "; " + part
    return text


def _change(status: FederationStatus) -> str:
    text = f"{status.key} {status.phase.value}"
    if status.phase in _ROUNDS_SHOWN and status.total_rounds:
        text += f" round {status.current_round}/{status.total_rounds}"
    return text


class StatusWriteError(Exception):
    """Base of the writer's errors."""


class StatusPushFailed(StatusWriteError):
    """The status commit could not be pushed after all retries (remote unreachable, or
    it kept moving, or it refused the push). Transient: the next cycle writes again."""


class StatusWriterMisconfigured(StatusWriteError):
    """`repo_dir` exists but is not a repository the writer can use: needs a person."""


class StatusPathRefused(StatusWriteError, ValueError):
    """A file outside `status/` (or with an unsafe name) was handed to the writer: a bug
    in the caller, never retried."""


class StatusWriter:
    """Writes `status/` into `branch` of `remote` (a URL or path), or into `status_branch`
    when given (created from `branch` on first use; `branch` is then never pushed to).

    `retry_delays` are the pauses in seconds between push attempts (jittered x0.5-1.5);
    attempts = len(retry_delays) + 1. `timeout` bounds each git command. Thread-safe:
    concurrent writes are serialised.
    """

    def __init__(
        self,
        repo_dir: Path,
        *,
        remote: str,
        branch: str = "main",
        status_branch: str | None = None,
        author_name: str = "Thunderline Reconciler",
        author_email: str = "reconciler@thunderline.invalid",
        token_env: str = "GIT_TOKEN",
        ssh_key: Path | None = None,
        known_hosts: Path | None = None,
        retry_delays: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0),
        timeout: float = 120.0,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.repo_dir = Path(repo_dir)
        self._remote = GitRemote(
            remote, token_env=token_env, ssh_key=ssh_key, known_hosts=known_hosts
        )
        self.branch = branch
        self.target = status_branch or branch
        if any(ch in author_name + author_email for ch in "<>\n"):
            raise ValueError("author name and email must not contain '<', '>' or newlines")
        self._author = f"{author_name} <{author_email}>"
        self._delays = retry_delays
        self._timeout = timeout
        self._sleep = sleep
        self._lock = threading.Lock()
        # (commit, its status tree, the tree's blob ids) of the last commit this writer made
        self._known: tuple[str, str, dict[str, str]] | None = None
        self._pushed: str | None = None  # the commit this writer last saw on the branch
        self._trees: dict[str, str] = {}  # commit -> its status/ tree id, for the last base

    def write(
        self,
        files: Mapping[str, str],
        *,
        message: str,
        remove_missing: bool = True,
        seen_head: str | None = None,
    ) -> str | None:
        """Make `status/` on the target branch hold exactly `files` (plus, when
        `remove_missing` is False, whatever else is there). Returns the pushed commit's
        sha, or None when the branch already had this content (nothing committed).
        `seen_head`: the head of `branch` as the caller last fetched it, if known."""
        for path in files:
            _check_path(path)
        with self._lock:
            if seen_head not in (None, self._pushed) and self.target == self.branch:
                self._pushed = None  # someone pushed since our commit: no use building on it
            self._ensure_repository()
            desired = _blob_ids(files)
            return self._write_with_retries(files, desired, message, remove_missing)

    def _write_with_retries(
        self,
        files: Mapping[str, str],
        desired: Mapping[str, str],
        message: str,
        remove_missing: bool,
    ) -> str | None:
        failure = ""
        for delay in (0.0, *self._delays):
            if delay:
                self._sleep(delay * random.uniform(0.5, 1.5))
            try:
                return self._attempt(files, desired, message, remove_missing)
            except GitFailed as exc:
                failure = exc.detail
            except SourceError as exc:  # reading the fetched base failed
                failure = str(exc)
        raise StatusPushFailed(
            f"could not push status to branch {self.target!r} of {self._remote.display} "
            f"after {len(self._delays) + 1} attempts: {failure}"
        )

    def _attempt(
        self,
        files: Mapping[str, str],
        desired: Mapping[str, str],
        message: str,
        remove_missing: bool,
    ) -> str | None:
        """Commit on the branch head and push. The head is usually still the commit this
        writer pushed last, so that is tried first without fetching (two round trips
        saved); when the push is refused (the branch moved) or nothing would change on it
        (someone may have edited status/ since), the head is fetched and built upon."""
        guess, self._pushed = self._pushed, None  # a guess is tried once
        if guess is not None:
            with contextlib.suppress(GitFailed):
                commit = self._commit_on(guess, files, desired, message, remove_missing)
                if commit is not None:
                    return self._publish(commit)
        base = self._fetch_base()
        commit = self._commit_on(base, files, desired, message, remove_missing)
        if commit is None:
            self._pushed = base  # the branch holds our files already
            return None
        return self._publish(commit)

    def _publish(self, commit: str) -> str:
        fault_point("report.before-push")
        self._push(commit)
        self._pushed = commit
        return commit

    def _fetch_base(self) -> str:
        """Fetch the target branch head (or, for a status branch not created yet, the spec
        branch head) and return its sha."""
        source = self.target
        if self.target != self.branch and not self._remote_has(self.target):
            source = self.branch
        tracking = _BASE_REF.format(branch=source)
        # Shallow only at a process's first fetch: later ones bring just the new commits
        # (~10 against ~35 ms); `_trees` is filled from then on.
        depth = [] if self._trees else ["--depth=1"]
        self._network("fetch", "--quiet", "--no-tags", "--no-write-fetch-head", *depth,
                      "--", self._remote.fetch_url, f"+refs/heads/{source}:{tracking}")  # fmt: skip
        head, tree = self._object_ids(f"{tracking}^{{commit}}", f"{tracking}:status")
        if head is None:
            raise SourceError(f"fetched branch {source!r} has no commit at {tracking}")
        self._trees = {head: tree or ""}  # asked next by _current: one git call for both
        return head

    def _remote_has(self, branch: str) -> bool:
        ref = f"refs/heads/{branch}"
        listing = self._network("ls-remote", "--heads", "--", self._remote.fetch_url, ref)
        return any(line.split(b"\t")[-1] == ref.encode() for line in listing.splitlines())

    def _commit_on(
        self,
        base: str,
        files: Mapping[str, str],
        desired: Mapping[str, str],
        message: str,
        remove_missing: bool,
    ) -> str | None:
        current = self._current(base)
        writes = {
            p: files[p].encode("utf-8") for p, blob in desired.items() if current.get(p) != blob
        }
        deletes = sorted(current.keys() - desired.keys()) if remove_missing else []
        if not writes and not deletes:
            return None
        stream = _fast_import_stream(base, writes, deletes, message, self._author)
        self._git("fast-import", "--quiet", "--force", "--date-format=raw", stdin=stream)
        commit, tree = self._object_ids(f"{_PENDING_REF}^{{commit}}", f"{_PENDING_REF}:status")
        if commit is None:
            raise SourceError(f"git fast-import made no commit at {_PENDING_REF}")
        if remove_missing:  # status/ of the new commit is exactly `desired`
            self._known = (commit, tree or "", dict(desired))
        return commit

    def _current(self, base: str) -> Mapping[str, str]:
        """{path: blob id} of status/ at `base`. When status/ is still the tree this writer
        committed last (people never edit it), that is known without listing 20,000 files."""
        known = self._known
        if known is not None and (base == known[0] or self._status_tree(base) == known[1]):
            return known[2]
        return blob_ids_at(self.repo_dir, base, STATUS_PREFIX)

    def _status_tree(self, commit: str) -> str:
        """The id of `commit`'s status/ tree ("" when it has none yet)."""
        if commit not in self._trees:
            self._trees = {commit: self._object_ids(f"{commit}:status")[0] or ""}
        return self._trees[commit]

    def _object_ids(self, *names: str) -> list[str | None]:
        """The object id each name resolves to (None: no such object), in one git call."""
        query = "".join(f"{name}\n" for name in names).encode()
        out = self._git("cat-file", "--batch-check=%(objectname)", stdin=query)
        lines = out.decode().splitlines()
        return [None if line.endswith(" missing") else line for line in lines]

    def _push(self, commit: str) -> None:
        # No "+" and no --force: a remote that moved rejects this, and we start over.
        self._network("push", "--porcelain", "--quiet", "--", self._remote.fetch_url,
                      f"{commit}:refs/heads/{self.target}")  # fmt: skip

    def _ensure_repository(self) -> None:
        if (self.repo_dir / "HEAD").is_file() or (self.repo_dir / ".git").exists():
            return
        if self.repo_dir.exists() and any(self.repo_dir.iterdir()):
            raise StatusWriterMisconfigured(
                f"status workdir {self.repo_dir} is not empty and not a Git repository"
            )
        self.repo_dir.mkdir(parents=True, exist_ok=True)
        try:
            self._git("init", "--quiet", "--bare")
            for key, value in _REPOSITORY_CONFIG.items():
                self._git("config", key, value)
        except GitFailed as exc:
            raise StatusWriterMisconfigured(
                f"cannot create {self.repo_dir}: {exc.detail}"
            ) from None

    def _network(self, *args: str) -> bytes:
        return run_git(
            self.repo_dir,
            *args,
            env=self._remote.environment(),
            timeout=self._timeout,
            secrets=self._remote.secrets(),
        )

    def _git(self, *args: str, stdin: bytes | None = None) -> bytes:
        return run_git(self.repo_dir, *args, stdin=stdin, timeout=self._timeout)


def _check_path(path: str) -> None:
    if not _safe(path):
        raise StatusPathRefused(f"refusing to write {path!r}: only files under status/ are written")


@lru_cache(maxsize=65536)  # the daemon hands over the same 20,000 paths every write
def _safe(path: str) -> bool:
    return bool(_SAFE_PATH.fullmatch(path)) and not any(s in (".", "..") for s in path.split("/"))


def _blob_ids(files: Mapping[str, str]) -> Mapping[str, str]:
    """{path: blob id}: known up front for the daemon's rendered files, hashed otherwise."""
    if isinstance(files, StatusFiles):
        return files.blob_ids
    return {path: blob_id(text) for path, text in files.items()}


def _fast_import_stream(
    base: str, writes: Mapping[str, bytes], deletes: list[str], message: str, author: str
) -> bytes:
    stamp = f"{author} {int(time.time())} +0000"
    text = message.encode("utf-8")
    parts = [
        f"commit {_PENDING_REF}\nauthor {stamp}\ncommitter {stamp}\n".encode(),
        b"data %d\n%s\n" % (len(text), text),
        f"from {base}\n".encode(),
    ]
    parts += [f"D {path}\n".encode() for path in deletes]
    for path in sorted(writes):
        data = writes[path]
        parts.append(f"M 100644 inline {path}\n".encode() + b"data %d\n%s\n" % (len(data), data))
    parts.append(b"\n")
    return b"".join(parts)
