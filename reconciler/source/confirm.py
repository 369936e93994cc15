"""Whether a person confirmed the deletions of the revision being applied (the prune guard).

The planner holds back a mass deletion (`prune-blocked`); the daemon then asks here whether
someone confirmed *this* deletion, in one of two ways:

- a commit trailer `Thunderline-Prune: confirm` on a commit brought in since `specs/` last
  changed on the branch: the commit that changed it (or, for a merge, any commit it merged),
  or any later one (an empty commit pushed after reading the `PruneBlocked` status). The next
  change to `specs/` starts over, so a trailer never confirms a later deletion;
- `reconciler run --prune-confirm REVISION`: `specs/` at REVISION is exactly `specs/` now
  (same tree id). The daemon's own status commits leave `specs/` alone and keep it valid;
  any later change to `specs/` makes it stale, and the daemon says so.

Only read when the guard holds something back: a cycle without a mass deletion runs no git.
"""

from __future__ import annotations

from pathlib import Path

from reconciler.source.command import GitFailed, run_git
from reconciler.source.errors import RevisionNotFound
from reconciler.source.trees import resolve_commit

TRAILER_KEY = "Thunderline-Prune"
TRAILER_VALUE = "confirm"
MAX_COMMITS = 1000  # commits looked at since specs/ last changed (status commits included)


def trailer_confirmation(
    repo: Path, rev: str, *, folder: str = "specs", key: str = TRAILER_KEY
) -> str | None:
    """The commit carrying `key: confirm` among those brought in since `folder` last changed
    on `rev`'s first-parent line (that change included), or None."""
    head = resolve_commit(repo, rev)
    last = _git(repo, "log", "--first-parent", "-n1", "--format=%H", head, "--", f"{folder}/")
    last = last.strip()
    if not last:
        return None  # the folder never existed in the history we have: nothing was deleted
    try:
        parent = _git(repo, "rev-parse", "--verify", "--quiet", f"{last}^1").strip()
    except GitFailed:
        parent = ""  # a root commit, or the shallow boundary: everything we have counts
    span = [f"{parent}..{head}"] if parent else [head]
    fmt = f"--format=%H%x1f%(trailers:key={key},valueonly,separator=%x1f)%x1e"
    out = _git(repo, "log", f"-n{MAX_COMMITS}", fmt, *span, "--")
    for record in out.split("\x1e"):
        sha, _, values = record.strip().partition("\x1f")
        if any(v.strip().lower() == TRAILER_VALUE for v in values.split("\x1f")):
            return sha
    return None


def revision_confirmation(
    repo: Path, rev: str, confirmed: str, *, folder: str = "specs"
) -> tuple[bool, str]:
    """Whether `folder` at `confirmed` (a revision a person named) is `folder` at `rev`;
    with why not, for the log."""
    try:
        named = resolve_commit(repo, confirmed)
    except RevisionNotFound:
        return False, f"revision {confirmed!r} is not in the daemon's checkout"
    if _tree(repo, named, folder) != _tree(repo, rev, folder):
        return False, f"{folder}/ changed since {confirmed!r}: that confirmation is stale"
    return True, ""


def _tree(repo: Path, rev: str, folder: str) -> str:
    try:
        return _git(repo, "rev-parse", "--verify", "--quiet", f"{rev}:{folder}").strip()
    except GitFailed:
        return ""  # no such folder at that revision


def _git(repo: Path, *args: str) -> str:
    return run_git(repo, *args).decode("utf-8", "replace")
