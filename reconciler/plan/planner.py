"""The planner: desired specs + recorded state + runtime observations -> an ordered `Plan`.

Pure: no I/O, no clock, deterministic order (by tenant, then name). The same function serves
the daemon's cycle, `reconciler plan` on a laptop, and PR review in CI. Semantics are written
down in docs/plan-semantics.md; the table-driven tests in tests/plan/ hold them in place.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass
from functools import partial

from reconciler.model import (
    DEFAULT_TARGETS,
    DesiredState,
    FederationKey,
    FederationSpec,
    Phase,
    RecordedFederation,
    RunObservation,
    SpecProblem,
    TargetNames,
)
from reconciler.plan import fields
from reconciler.plan.admission import Limits, admit
from reconciler.plan.model import Action, ActionKind, FieldChange, Plan
from reconciler.selector import NodeLabels
from reconciler.specs.policy import DEFAULT_POLICY, Policy


@dataclass(frozen=True)
class PlanOptions:
    """Policy knobs of the planner."""

    prune: bool = False  # a deleted spec file stops its federation (else: reported as orphaned)
    max_recoveries: int = 3  # resubmissions of a dying run per generation before it fails
    # The prune guard: deleted files that would stop more than `prune_max_count` AND more
    # than `prune_max_share` of the active (non-terminal) federations at once stop none of
    # them (`prune-blocked`) until a person confirms that deletion (`prune_confirmed`).
    prune_max_count: int = 10
    prune_max_share: float = 0.5
    # The tenant policy: what `specs` checked every file against, and here each tenant's
    # maxConcurrent (starts past it are `queued` until a federation of the tenant ends).
    policy: Policy = DEFAULT_POLICY
    max_running: int | None = None  # federations running at once on the SuperLink
    max_running_per_tenant: int | None = None  # per tenant, where the policy sets no limit
    # The SuperLinks the daemon drives: `spec.target` names one (checked with the specs);
    # `max_running` and the SuperNodes a start waits for count per target.
    targets: TargetNames = DEFAULT_TARGETS

    def __post_init__(self) -> None:
        if self.prune_max_count < 0:
            raise ValueError(f"prune_max_count must be >= 0, not {self.prune_max_count}")
        if not 0.0 <= self.prune_max_share <= 1.0:
            raise ValueError(f"prune_max_share must be within 0..1, not {self.prune_max_share}")
        for name in ("max_running", "max_running_per_tenant"):
            value = getattr(self, name)
            if value is not None and value < 1:
                raise ValueError(f"{name} must be >= 1, not {value}")

    @property
    def limits(self) -> Limits:
        return Limits(
            self.policy, self.max_running, self.max_running_per_tenant, self.targets.default
        )


_Decide = Callable[..., "Action | None"]


def plan(
    desired: DesiredState,
    recorded: Mapping[FederationKey, RecordedFederation],
    observed: Mapping[FederationKey, RunObservation] | None = None,
    options: PlanOptions = PlanOptions(),
    *,
    memo: PlanMemo | None = None,
    prune_confirmed: bool = False,
    prune_held: Collection[FederationKey] = (),
    nodes_online: Mapping[str, int] | None = None,
    node_labels: Mapping[str, NodeLabels] | None = None,
) -> Plan:
    """Decide what to do for every federation that is desired, recorded, or both.

    `observed` is None when the runtime could not be asked: then no decision is taken from
    run status (an unreachable SuperLink never reads as "every run died"). `memo` (a caller
    that plans again and again) only saves work: the plan is the same without it.
    `prune_confirmed`: a person confirmed the deletions of this revision (the caller tells
    which revision; see docs/plan-semantics.md), so the prune guard lets them through.
    `prune_held`: the federations whose stop the guard held back last time (the daemon
    passes them on from cycle to cycle): held on until confirmed or their file is back.
    `nodes_online`: per target, SuperNodes the runtime lists as online (a target missing, or
    None: not known); a start that needs more waits (plan/admission.py, with the concurrency
    limits and the queue). `node_labels`: per target, which of them a start's clientSelector
    may use (None: all of them).
    """
    problems_by_key = _problems_by_key(desired, recorded)
    decide = memo.decider(observed is not None, options) if memo else _decide
    actions = []
    for key in _all_keys(recorded, desired.specs, problems_by_key):
        action = decide(
            key,
            desired.specs.get(key),
            recorded.get(key),
            problems_by_key.get(key, ()),
            None if observed is None else observed.get(key),
            observed is not None,
            options,
        )
        if action is not None:
            actions.append(action)
    if options.prune and not prune_confirmed:
        _guard_prune(actions, recorded, options, prune_held)
    admit(actions, recorded, options.limits, nodes_online, node_labels)
    known = (
        set(desired.claimed) | {r.path for r in recorded.values()} if desired.problems else set()
    )
    unclaimed = tuple(
        problem
        for file, problems in sorted(desired.problems.items())
        if file not in known
        for problem in problems
    )
    return Plan(tuple(actions), desired.revision, unclaimed)


_Inputs = tuple[
    FederationSpec | None, RecordedFederation | None, tuple[SpecProblem, ...], RunObservation | None
]


class PlanMemo:
    """The last decision per federation, for a caller that plans every cycle (the daemon).
    `_decide` is pure, so a federation whose spec, record, problems and observed run are
    the same as last time gets its last action back without deciding again (10,000
    decisions are ~35 ms; 10,000 identity checks, ~3)."""

    def __init__(self) -> None:
        self._last: dict[FederationKey, tuple[_Inputs, Action | None]] = {}
        self._context: tuple[bool, PlanOptions] | None = None

    def decider(self, runtime_known: bool, options: PlanOptions) -> _Decide:
        if (runtime_known, options) != self._context:
            self._last = {}  # decisions made under other terms do not carry over
        self._context = (runtime_known, options)
        last, self._last = self._last, {}  # keys planned no more are dropped
        return partial(self._decide, last)

    def _decide(
        self,
        last: dict[FederationKey, tuple[_Inputs, Action | None]],
        key: FederationKey,
        spec: FederationSpec | None,
        record: RecordedFederation | None,
        problems: tuple[SpecProblem, ...],
        run: RunObservation | None,
        runtime_known: bool,
        options: PlanOptions,
    ) -> Action | None:
        now = (spec, record, problems, run)
        seen = last.get(key)
        if seen is not None and _same(seen[0], now):
            action = seen[1]
        else:
            action = _decide(key, spec, record, problems, run, runtime_known, options)
        self._last[key] = (now, action)
        return action


def _same(before: _Inputs, now: _Inputs) -> bool:
    (s0, r0, p0, o0), (s1, r1, p1, o1) = before, now
    return s0 is s1 and r0 is r1 and p0 == p1 and (o0 is o1 or o0 == o1)


def _all_keys(
    recorded: Mapping[FederationKey, object],
    specs: Mapping[FederationKey, object],
    problems: Mapping[FederationKey, object],
) -> list[FederationKey]:
    """Every key, once, sorted. Listed source by source before sorting: the store and the
    repository hand over keys nearly in order, which sorts in linear time (a set union
    would shuffle 10,000 keys first: 6 ms against 0.8)."""
    keys = list(recorded)
    keys += [k for k in specs if k not in recorded]
    keys += [k for k in problems if k not in recorded and k not in specs]
    keys.sort()
    return keys


def _problems_by_key(
    desired: DesiredState, recorded: Mapping[FederationKey, RecordedFederation]
) -> dict[FederationKey, tuple[SpecProblem, ...]]:
    """Broken files, attributed to the federation they claim or were last recorded at."""
    if not desired.problems:
        return {}  # the usual case: no map of every recorded path to build
    by_path = {r.path: key for key, r in recorded.items()}
    found: dict[FederationKey, tuple[SpecProblem, ...]] = {}
    for file, problems in desired.problems.items():
        key = desired.claimed.get(file) or by_path.get(file)
        if key is not None:
            found[key] = found.get(key, ()) + problems
    return found


def _decide(
    key: FederationKey,
    spec: FederationSpec | None,
    record: RecordedFederation | None,
    problems: tuple[SpecProblem, ...],
    run: RunObservation | None,
    runtime_known: bool,
    options: PlanOptions,
) -> Action | None:
    if problems:
        return _invalid(key, record, problems)
    if spec is None:
        return _deleted(key, record, options) if record else None
    if record is None:
        return _new(key, spec)
    return _existing(key, spec, record, run, runtime_known, options)


def _invalid(
    key: FederationKey, record: RecordedFederation | None, problems: tuple[SpecProblem, ...]
) -> Action:
    what = (
        "the tenant policy denies the spec"
        if all(p.policy for p in problems)
        else "spec is invalid"
    )
    if record is None:
        reason = f"{what}; nothing is created until it is fixed"
    elif record.phase.terminal:
        reason = f"{what}; the federation stays {record.phase}"
    else:
        reason = f"{what}; it keeps its last good spec and stays {record.phase}"
    return Action(ActionKind.INVALID, key, reason, problems=problems)


PRUNE_TRAILER = "Thunderline-Prune: confirm"
_HOW_TO_CONFIRM = (
    f"nothing is stopped until a person confirms this deletion: push a commit with the "
    f"trailer '{PRUNE_TRAILER}', or run the daemon with --prune-confirm REVISION"
)


def _guard_prune(
    actions: list[Action],
    recorded: Mapping[FederationKey, RecordedFederation],
    options: PlanOptions,
    held: Collection[FederationKey],
) -> None:
    """Hold back every stop of a deleted file when there are more of them than the guard
    allows (more than `prune_max_count` and more than `prune_max_share` of the active
    federations): one commit deleting the whole fleet must not stop it. Stops of `held`
    keys (held back before) stay held whatever the counts are now, so that federations
    started since cannot dilute a held deletion below the share. In place."""
    pruned = [i for i, a in enumerate(actions) if a.kind is ActionKind.STOP and a.spec is None]
    if not pruned:
        return
    many = len(pruned) > options.prune_max_count
    active = (
        _active_if_outnumbered(recorded, len(pruned), options.prune_max_share) if many else None
    )
    if active is not None:
        reason = (
            f"spec file deleted, but this revision would stop {len(pruned)} of {active} "
            f"active federations at once (the prune guard holds back more than "
            f"{options.prune_max_count} and more than {options.prune_max_share:.0%}); "
            + _HOW_TO_CONFIRM
        )
    elif held:
        pruned = [i for i in pruned if actions[i].key in held]
        reason = "spec file deleted in a mass deletion the prune guard holds back; " + (
            _HOW_TO_CONFIRM
        )
    else:
        return
    for i in pruned:
        actions[i] = Action(ActionKind.PRUNE_BLOCKED, actions[i].key, reason)


_TERMINAL = frozenset(p for p in Phase if p.terminal)


def _active_if_outnumbered(
    recorded: Mapping[FederationKey, RecordedFederation], stops: int, share: float
) -> int | None:
    """How many recorded federations are active, when `stops` is more than `share` of
    them; else None. Stops counting as soon as it is not: a big fleet losing a few files
    costs a few hundred checks, not one per federation (10,000 take ~10 ms)."""
    active = 0
    for record in recorded.values():
        if record.phase not in _TERMINAL:
            active += 1
            if stops <= share * active:
                return None
    return active


def _deleted(key: FederationKey, record: RecordedFederation, options: PlanOptions) -> Action | None:
    if record.phase.terminal:
        return None
    if options.prune:
        # No spec: what tells a deleted file's stop from `stop: true` (the prune guard).
        return Action(ActionKind.STOP, key, "spec file deleted and pruning is enabled")
    return Action(
        ActionKind.ORPHAN,
        key,
        f"spec file {record.path} deleted; pruning is off, so it stays {record.phase}",
    )


def _new(key: FederationKey, spec: FederationSpec) -> Action | None:
    if spec.stop_requested:
        return None
    if spec.paused:
        return Action(ActionKind.PAUSE, key, "new federation, created paused", spec)
    return Action(ActionKind.START, key, "new federation", spec)


def _existing(
    key: FederationKey,
    spec: FederationSpec,
    record: RecordedFederation,
    run: RunObservation | None,
    runtime_known: bool,
    options: PlanOptions,
) -> Action | None:
    changes = fields.diff(record.document, spec.document) if spec.digest != record.digest else ()
    if spec.digest != record.digest and not changes and not record.document:
        # Recorded without its document (e.g. planned against status reports): all we know is
        # that the digest moved, so assume the worst.
        changes = (FieldChange("spec", "(recorded digest)", "(changed)", True),)
    control = _control(key, spec, record, changes)
    if control is not None:
        return control
    if changes:
        return _changed(key, spec, record, changes)
    if record.phase is Phase.PENDING:
        return Action(ActionKind.START, key, "recorded but never started", spec)
    if runtime_known:
        return _from_runtime(key, record, run, options)
    return None


def _control(
    key: FederationKey,
    spec: FederationSpec,
    record: RecordedFederation,
    changes: tuple[FieldChange, ...],
) -> Action | None:
    """Stop, pause and resume: the user's explicit lifecycle requests."""
    phase = record.phase
    if spec.stop_requested and not phase.terminal:
        return Action(ActionKind.STOP, key, "stop requested in the spec", spec, changes)
    if phase.terminal:
        return None
    # Nothing runs yet in Pending, so nothing needs replacing before a pause.
    replacing = phase is not Phase.PENDING and any(c.forces_replacement for c in changes)
    if spec.paused and phase is not Phase.PAUSED and not replacing:
        return Action(ActionKind.PAUSE, key, "paused: true in the spec", spec, changes)
    if not spec.paused and phase is Phase.PAUSED and not replacing:
        return Action(ActionKind.RESUME, key, "paused removed from the spec", spec, changes)
    return None


def _changed(
    key: FederationKey,
    spec: FederationSpec,
    record: RecordedFederation,
    changes: tuple[FieldChange, ...],
) -> Action:
    forcing = [c.path for c in changes if c.forces_replacement]
    if record.phase is Phase.PENDING:
        return Action(ActionKind.START, key, "spec changed before the first run", spec, changes)
    if record.phase.terminal and not (spec.paused or spec.stop_requested):
        return Action(
            ActionKind.REPLACE,
            key,
            f"spec changed after the federation {record.phase.lower()}; a new generation starts",
            spec,
            changes,
        )
    if forcing and not record.phase.terminal:
        return Action(
            ActionKind.REPLACE, key, f"{', '.join(forcing)} forces replacement", spec, changes
        )
    return Action(ActionKind.UPDATE, key, "spec changed; applied in place", spec, changes)


def _from_runtime(
    key: FederationKey,
    record: RecordedFederation,
    run: RunObservation | None,
    options: PlanOptions,
) -> Action | None:
    """Recover, fail or complete federations whose Flower run ended without telling us."""
    if not record.phase.run_under_way:
        return None
    current = (record.run_generation or record.generation, record.attempt)
    if run is not None and (run.generation, run.attempt) != current:
        run = None  # only the current attempt's run speaks for the federation
    if run is not None and not run.finished:
        return None
    if run is not None and run.sub_status == "completed":
        # An app that reports progress finishes through its own report; one that does not
        # (current_round 0) is trusted to Flower's status. Ending early is a failure.
        if record.current_round == 0 or record.current_round >= record.total_rounds:
            return Action(ActionKind.COMPLETE, key, f"Flower run {run.run_id} finished")
        done = f"{record.current_round} of {record.total_rounds}"
        why = f"Flower run {run.run_id} ended after round {done}"
    else:
        why = "the Flower run vanished" if run is None else _run_end(run)
    if record.recoveries >= options.max_recoveries:
        return Action(ActionKind.FAIL, key, f"{why}; gave up after {record.recoveries} recoveries")
    return Action(ActionKind.RECOVER, key, f"{why}; resubmitting from the last checkpoint")


def _run_end(run: RunObservation) -> str:
    detail = f": {run.details}" if run.details else ""
    return f"Flower run {run.run_id} ended {run.sub_status or 'unexpectedly'}{detail}"
