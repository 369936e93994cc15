"""Which commit a federation's commit status belongs on, from the report step's statuses.

The report step knows, per federation, the revision at which its spec was last loaded
(`FederationStatus.revision`). `revision_in` answers for one event's federation and
generation: the revision; `""` when there is none to put a status on (a newer generation
replaced that one, or the spec file no longer holds the recorded spec); `None` while the
statuses do not know yet (no report since the daemon started, or not up to that
generation), and the delivery waits. Pure; the daemon passes its reporter's statuses.
`SpecCommits` turns a loaded revision into the commit that changed the spec file (Git,
cached); the report step uses it too, so that revision already is that commit.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.model import FederationKey
from reconciler.report import FederationStatus
from reconciler.source import SourceError

log = logging.getLogger(__name__)
_REMEMBERED = 10_000  # (path, revision) pairs resolved, kept


def revision_in(
    statuses: Mapping[FederationKey, FederationStatus] | None, key: FederationKey, generation: int
) -> str | None:
    if statuses is None:
        return None
    status = statuses.get(key)
    if status is None or status.generation < generation:
        return None
    if status.generation > generation:
        return ""
    return status.revision


def as_loaded(path: str, revision: str) -> str:
    """The revision itself: for callers without a Git checkout (tests, in-memory worlds)."""
    return revision


@dataclass(frozen=True, slots=True)
class SpecCommit:
    """Where a spec file last changed: `known` False when Git could not say (a shallow
    checkout); `commit` is then the revision the spec was loaded at."""

    commit: str
    known: bool = True


class SpecCommits:
    """The commit that last changed a spec file at a revision, remembered per (path, revision).

    The revision a spec was loaded at is the branch head the daemon fetched when it read the
    file; after a restart that is the head then (often the daemon's own status commit),
    not the commit that changed the spec. Commit statuses, `invalid` notices and the status
    reports' `revision` belong on the latter. `last_change` is `GitSource.last_change`:
    `""` when the checkout is too shallow to say (remembered, as the loaded revision not
    known); a Git failure gives the loaded revision and is asked again next time.
    """

    def __init__(self, last_change: Callable[[str, str], str]) -> None:
        self.last_change = last_change
        self._known: dict[tuple[str, str], SpecCommit] = {}

    def __call__(self, path: str, revision: str) -> str:
        return self.find(path, revision).commit

    def find(self, path: str, revision: str) -> SpecCommit:
        if not (path and revision):
            return SpecCommit(revision)
        found = self._known.get((path, revision))
        if found is None:
            try:
                commit = self.last_change(revision, path)
            except SourceError as exc:
                log.info("commit of %s at %s not known: %s", path, revision[:12], exc)
                return SpecCommit(revision, known=False)
            found = SpecCommit(commit) if commit else SpecCommit(revision, known=False)
            if len(self._known) >= _REMEMBERED:
                self._known.clear()
            self._known[(path, revision)] = found
        return found
