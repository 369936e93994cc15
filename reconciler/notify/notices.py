"""Notices no lifecycle transition writes, decided here: invalid specs and stalled runs. Pure.

`invalid_notices(specs, commit_of)`: one notice per spec file and the commit that changed
it, for the invalid (or policy-denied) specs the daemon's last cycle found, whether or not
a federation is recorded for them. `stalled_notices(progress, after)`: one notice per
federation whose run is under way and has not progressed (no round started or completed,
no phase change) for `after` seconds, fingerprinted by the time of that last progress, so
it is told once per stall and again only after it progressed and stalled anew.
`reconciler.notify.raising` raises them through `Store.raise_notices`, which remembers the
fingerprints (a notice is raised once, across cycles and restarts).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Protocol

from reconciler.model import FederationKey, SpecProblem
from reconciler.store.notices import NewNotice, RunProgress

INVALID = "fl.spec.invalid"
STALLED = "fl.federation.stalled"
PROBLEMS_SHOWN = 20  # problems an invalid notice carries; the status report has all


class InvalidSpec(Protocol):
    """What the daemon found about an invalid spec (`daemon.unrecorded.Unrecorded`)."""

    @property
    def key(self) -> FederationKey: ...
    @property
    def path(self) -> str: ...
    @property
    def revision(self) -> str: ...
    @property
    def problems(self) -> tuple[SpecProblem, ...]: ...
    @property
    def reason(self) -> str: ...


def invalid_notices(
    specs: Iterable[InvalidSpec], commit_of: Callable[[str, str], str]
) -> list[NewNotice]:
    """`commit_of(path, revision)`: the commit that changed the file (revisions.SpecCommits),
    so a restarted daemon, loading everything at a newer head, tells nothing again."""
    return [
        NewNotice(
            INVALID,
            spec.key,
            fingerprint=f"{spec.path}@{commit}",
            payload={
                "path": spec.path,
                "revision": commit,
                "reason": _first_problem(spec.problems),
                "condition": spec.reason,
                "problems": [str(p) for p in spec.problems[:PROBLEMS_SHOWN]],
            },
        )
        for spec in specs
        for commit in (commit_of(spec.path, spec.revision),)
    ]


def _first_problem(problems: Sequence[SpecProblem]) -> str:
    if not problems:
        return "invalid"
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def stalled_notices(progress: Iterable[RunProgress], after: float) -> list[NewNotice]:
    notices = []
    for run in progress:
        idle = (run.now - run.since).total_seconds()
        if idle < after:
            continue
        since = run.since.isoformat()
        notices.append(
            NewNotice(
                STALLED,
                run.key,
                fingerprint=f"{run.generation}@{since}",
                generation=run.generation,
                payload={
                    "generation": run.generation,
                    "round": run.current_round,
                    "since": since,
                    "stalledAfterSeconds": after,
                    "reason": f"no round progress for {_duration(idle)} (since {since})",
                },
            )
        )
    return notices


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole >= 3600:
        return f"{whole // 3600}h{whole % 3600 // 60:02d}m"
    if whole >= 60:
        return f"{whole // 60}m{whole % 60:02d}s"
    return f"{whole}s"
