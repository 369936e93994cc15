"""The federation lifecycle as data: which phase changes are allowed and which event each writes.

Pure: no I/O. The store calls `check` and `event_type` inside the transaction that writes a
transition (an illegal change raises before anything is written); the planner uses `ALLOWED`
to decide which actions are possible at all.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from reconciler.model import Phase

_P = Phase

# The event written when a spec change needs no phase change (new generation, same phase).
UPDATED = "fl.federation.updated"

# Round, aggregate and client progress: recorded with an event, but not phase transitions.
ROUND_STARTED = "fl.round.started"
ROUND_COMPLETED = "fl.round.completed"
AGGREGATE_COMPLETED = "fl.aggregate.completed"
CLIENT_JOINED = "fl.client.joined"
CLIENT_DROPPED = "fl.client.dropped"

# (from, to) -> the one event type that transition writes. None is "not recorded yet".
_EVENTS: Mapping[tuple[Phase | None, Phase], str] = MappingProxyType(
    {
        (None, _P.PENDING): "fl.federation.created",
        (_P.PENDING, _P.STARTING): "fl.federation.started",
        (_P.STARTING, _P.RUNNING): "fl.federation.running",
        # A recovery resubmit: the payload says which attempt and why (from Starting too: a
        # run that died before it reported its first round, e.g. a SuperLink restart).
        (_P.RUNNING, _P.STARTING): "fl.federation.started",
        (_P.STARTING, _P.STARTING): "fl.federation.started",
        (_P.PAUSED, _P.STARTING): "fl.federation.resumed",
        **{(p, _P.PAUSED): "fl.federation.paused" for p in (_P.PENDING, _P.STARTING, _P.RUNNING)},
        **{(p, _P.COMPLETED): "fl.federation.completed" for p in (_P.STARTING, _P.RUNNING)},
        **{
            (p, to): f"fl.federation.{to.value.lower()}"
            for p in (_P.PENDING, _P.STARTING, _P.RUNNING, _P.PAUSED)
            for to in (_P.FAILED, _P.STOPPED)
        },
        # A new generation replaces a finished one.
        **{(p, _P.PENDING): "fl.federation.created" for p in (_P.COMPLETED, _P.FAILED, _P.STOPPED)},
    }
)


def _allowed() -> Mapping[Phase | None, frozenset[Phase]]:
    targets: dict[Phase | None, set[Phase]] = {None: set(), **{p: set() for p in Phase}}
    for from_, to in _EVENTS:
        targets[from_].add(to)
    return MappingProxyType({k: frozenset(v) for k, v in targets.items()})


ALLOWED: Mapping[Phase | None, frozenset[Phase]] = _allowed()

EVENT_TYPES: frozenset[str] = frozenset(_EVENTS.values()) | {
    UPDATED,
    ROUND_STARTED,
    ROUND_COMPLETED,
    AGGREGATE_COMPLETED,
    CLIENT_JOINED,
    CLIENT_DROPPED,
}


class IllegalTransition(ValueError):
    """A phase change the lifecycle forbids. A bug in the caller: nothing was written."""

    def __init__(self, from_: Phase | None, to: Phase) -> None:
        self.from_ = from_
        self.to = to
        start = from_.value if from_ is not None else "(new)"
        allowed = ", ".join(sorted(p.value for p in ALLOWED.get(from_, frozenset()))) or "nothing"
        super().__init__(f"illegal transition {start} -> {to.value} (allowed: {allowed})")


def check(from_: Phase | None, to: Phase) -> None:
    """Raise `IllegalTransition` unless `from_ -> to` is allowed."""
    if (from_, to) not in _EVENTS:
        raise IllegalTransition(from_, to)


def event_type(from_: Phase | None, to: Phase) -> str:
    """The event type the transition `from_ -> to` writes; raises `IllegalTransition`."""
    check(from_, to)
    return _EVENTS[(from_, to)]
