"""What recorded state a plan leads to, computed without doing anything.

The model that `reconciler.apply` follows when it carries actions out for real; the planner's
convergence property (plan, simulate, plan again: nothing left to do) is tested against it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reconciler.model import FederationKey, FederationSpec, Phase, RecordedFederation
from reconciler.plan.model import Action, ActionKind, Plan


def outcome(action: Action, record: RecordedFederation | None) -> RecordedFederation | None:
    """The record after `action` succeeds (None: no record, as before)."""
    kind, spec = action.kind, action.spec
    if record is None:
        if spec is None:
            return None
        record = _first_record(spec)
    if spec is not None and spec.digest != record.digest:
        record = _new_generation(record, spec, fresh=kind in (ActionKind.REPLACE,))
    phase = _PHASE_AFTER.get(kind)
    if kind is ActionKind.REPLACE and spec is not None and spec.paused:
        phase = Phase.PAUSED
    if phase is None:
        return record
    attempt = record.attempt + 1 if phase is Phase.STARTING else record.attempt
    recoveries = record.recoveries + (kind is ActionKind.RECOVER)
    return replace(record, phase=phase, attempt=attempt, recoveries=recoveries)


_PHASE_AFTER = {
    ActionKind.START: Phase.STARTING,
    ActionKind.REPLACE: Phase.STARTING,
    ActionKind.PAUSE: Phase.PAUSED,
    ActionKind.RESUME: Phase.STARTING,
    ActionKind.STOP: Phase.STOPPED,
    ActionKind.RECOVER: Phase.STARTING,
    ActionKind.FAIL: Phase.FAILED,
    ActionKind.COMPLETE: Phase.COMPLETED,
}


def _first_record(spec: FederationSpec) -> RecordedFederation:
    return RecordedFederation(
        key=spec.key,
        path=spec.path,
        document=spec.document,
        digest=spec.digest,
        generation=1,
        observed_generation=0,
        phase=Phase.PENDING,
        total_rounds=spec.rounds_total,
    )


def _new_generation(
    record: RecordedFederation, spec: FederationSpec, *, fresh: bool
) -> RecordedFederation:
    return replace(
        record,
        path=spec.path,
        document=spec.document,
        digest=spec.digest,
        generation=record.generation + 1,
        total_rounds=spec.rounds_total,
        current_round=0 if fresh else record.current_round,
        attempt=0 if fresh else record.attempt,
        recoveries=0 if fresh else record.recoveries,
    )


def simulate(
    recorded: Mapping[FederationKey, RecordedFederation], plan: Plan
) -> dict[FederationKey, RecordedFederation]:
    """Recorded state after every action of `plan` succeeded."""
    result = dict(recorded)
    for action in plan.actions:
        after = outcome(action, result.get(action.key))
        if after is not None:
            result[action.key] = after
    return result
