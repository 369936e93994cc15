"""Derive each federation's conditions from one cycle's outcome. Pure.

The vocabulary is fixed (`model.ConditionType`): `Ready`, `Reconciling` and `Stalled` are
always present; a step's failure condition (`SpecInvalid`, `PolicyDenied`, `SourceUnavailable`,
`RuntimeUnavailable`, `ApplyFailed`, `Orphaned`, `PruneBlocked`) appears while it holds and is
removed when it clears, as Flux does. A spec without a federation (`derive_unrecorded`) gets
`SpecInvalid`/`PolicyDenied` or `Queued`. `lastTransitionTime` moves only when a condition's
status changes.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from functools import lru_cache

from reconciler.model import Condition, ConditionType, Phase, RecordedFederation, SpecProblem
from reconciler.plan.admission import NO_ELIGIBLE

T = ConditionType


@dataclass(frozen=True)
class Findings:
    """What the cycle found about one federation (empty strings: nothing wrong)."""

    problems: tuple[SpecProblem, ...] = ()
    source_error: str = ""
    runtime_error: str = ""
    apply_error: str = ""
    apply_transient: bool = True
    orphaned: str = ""
    prune_blocked: str = ""  # its file was deleted in a mass deletion the prune guard holds
    acted: bool = False  # an action for it succeeded this cycle
    queued: str = ""  # its start waits for a slot (a concurrency limit), with its place
    nodes_short: str = ""  # fewer SuperNodes are online than it needs (waiting or running)


def derive(
    record: RecordedFederation,
    found: Findings,
    previous: Mapping[ConditionType, Condition],
    now: str,
) -> tuple[Condition, ...]:
    raw = [*_failures(found), *_waiting(found), _stalled(record, found)]
    raw.append(_reconciling(record, found))
    raw.append(_ready(record, [c for c in raw if c[1] == "True"], found))
    return tuple(_stamped(c, previous, now) for c in raw)


_Raw = tuple[ConditionType, str, str, str]  # type, status, reason, message


def derive_unrecorded(
    found: Findings, previous: Mapping[ConditionType, Condition], now: str
) -> tuple[Condition, ...]:
    """The conditions of a spec that is no federation yet: broken or denied (`SpecInvalid`
    or `PolicyDenied`; Stalled: a person must fix it)."""
    raw = _failures(found)
    if raw:
        _, _, reason, message = raw[0]
        wait = "nothing is created until a person fixes the spec"
        raw += [
            (T.STALLED, "True", reason, wait),
            (T.RECONCILING, "False", reason, wait),
            (T.READY, "False", reason, message),
        ]
    return tuple(_stamped(c, previous, now) for c in raw)


def _failures(found: Findings) -> list[_Raw]:
    out: list[_Raw] = []
    denied = tuple(p for p in found.problems if p.policy)
    invalid = tuple(p for p in found.problems if not p.policy)
    if invalid:
        out.append((T.SPEC_INVALID, "True", "ValidationFailed", _summary(invalid)))
    if denied:
        out.append((T.POLICY_DENIED, "True", "PolicyDenied", _summary(denied)))
    if found.source_error:
        out.append((T.SOURCE_UNAVAILABLE, "True", "FetchFailed", found.source_error))
    if found.runtime_error:
        out.append((T.RUNTIME_UNAVAILABLE, "True", "SuperLinkUnreachable", found.runtime_error))
    if found.apply_error:
        out.append((T.APPLY_FAILED, "True", "ActionFailed", found.apply_error))
    if found.orphaned:
        out.append((T.ORPHANED, "True", "SpecDeleted", found.orphaned))
    if found.prune_blocked:
        out.append((T.PRUNE_BLOCKED, "True", "MassDeletion", found.prune_blocked))
    return out


def _waiting(found: Findings) -> list[_Raw]:
    """What a start (or a running federation) waits for; nothing a person must fix."""
    out: list[_Raw] = []
    if found.queued:
        out.append((T.QUEUED, "True", "ConcurrencyLimit", found.queued))
    if found.nodes_short:
        none_match = found.nodes_short.startswith(NO_ELIGIBLE)
        reason = "NoEligibleSuperNodes" if none_match else "TooFewOnline"
        out.append((T.SUPERNODES_SHORT, "True", reason, found.nodes_short))
    return out


def _summary(problems: tuple[SpecProblem, ...]) -> str:
    more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
    return f"{problems[0]}{more}"


def _stalled(record: RecordedFederation, found: Findings) -> _Raw:
    if record.phase is Phase.FAILED:
        return (T.STALLED, "True", "Failed", record.reason or "the federation failed")
    if found.apply_error and not found.apply_transient:
        return (T.STALLED, "True", "NeedsAttention", found.apply_error)
    return (T.STALLED, "False", "Progressing", "nothing needs a person")


def _reconciling(record: RecordedFederation, found: Findings) -> _Raw:
    if record.phase in (Phase.PENDING, Phase.STARTING) or found.acted:
        return (
            T.RECONCILING,
            "True",
            "Progressing",
            f"moving to the desired state ({record.phase})",
        )
    return (T.RECONCILING, "False", "Settled", f"phase {record.phase}")


def _ready(record: RecordedFederation, failing: list[_Raw], found: Findings) -> _Raw:
    blocking = [
        c for c in failing if c[0] in (T.SPEC_INVALID, T.POLICY_DENIED, T.APPLY_FAILED, T.STALLED)
    ]
    if blocking:
        _, _, reason, message = blocking[0]
        return (T.READY, "False", reason, message)
    if record.phase is Phase.PENDING and found.queued:
        return (T.READY, "False", "Queued", found.queued)
    if record.phase is Phase.PENDING and found.nodes_short:
        return (T.READY, "False", "WaitingForSuperNodes", found.nodes_short)
    if record.phase in (Phase.RUNNING, Phase.PAUSED, Phase.COMPLETED):
        return (T.READY, "True", record.phase.value, _ready_message(record))
    return (T.READY, "False", record.phase.value, record.reason or f"phase {record.phase}")


def _ready_message(record: RecordedFederation) -> str:
    rounds = f"round {record.current_round} of {record.total_rounds}"
    return {
        Phase.RUNNING: f"running, {rounds}",
        Phase.PAUSED: f"paused after {rounds}",
        Phase.COMPLETED: _completed(record),
    }[record.phase]


def _completed(record: RecordedFederation) -> str:
    # An app without the SDK completes on Flower's status even when its log showed fewer
    # rounds (or none): say what was recorded rather than claim rounds.total.
    if record.current_round >= record.total_rounds:
        return f"completed {record.total_rounds} rounds"
    shown = f"{record.current_round} of {record.total_rounds}"
    return f"completed; the app's log showed {shown} rounds"


def _stamped(raw: _Raw, previous: Mapping[ConditionType, Condition], now: str) -> Condition:
    kind, status, reason, message = raw
    before = previous.get(kind)
    since = before.last_transition_time if before and before.status == status else now
    return _condition(kind, status, reason, message, since)


# Thousands of federations share the same few conditions (all started in one cycle: one
# "Reconciling" condition): equal conditions are one object, not one per federation.
_condition = lru_cache(maxsize=4096)(Condition)
