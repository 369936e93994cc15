"""One reconcile cycle: fetch -> load -> observe -> plan -> apply -> record -> report.

`Reconciler.cycle()` runs the steps in order, each a short method with one job. A step that
fails degrades what follows instead of guessing: a failed fetch keeps the last good desired
state (it is never read as "every spec was deleted"), an unreachable runtime means no
decision is taken from run status, and a store failure ends the cycle (nothing is acted on
without recorded state). The caller (the daemon's scheduler) never runs two cycles at once.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime

from reconciler.apply import ActionResult, Applier
from reconciler.daemon.desired import DesiredCache
from reconciler.daemon.undelivered import UndeliveredReports
from reconciler.model import DesiredState, FederationKey, RecordedFederation, RunObservation
from reconciler.plan import ActionKind, Plan, PlanMemo, PlanOptions, plan
from reconciler.runtime.base import Runtime, RuntimeFailure
from reconciler.runtime.logprogress import LogFollower
from reconciler.selector import NodeLabels
from reconciler.source import GitSource, SourceError
from reconciler.store import Store, StoreError
from reconciler.telemetry.names import RECONCILE
from reconciler.telemetry.tracing import Tracing

log = logging.getLogger(__name__)


@dataclass
class CycleOutcome:
    """What one cycle saw and did; the report step and the metrics read it."""

    started_at: datetime
    revision: str | None = None
    desired: DesiredState | None = None
    spec_revisions: Mapping[str, str] = field(default_factory=dict)  # path -> revision loaded at
    plan: Plan | None = None
    results: list[ActionResult] = field(default_factory=list)
    source_error: str = ""  # the fetch failed; desired state is the last good one
    runtime_error: str = ""  # the runtime could not be asked; no run-status decisions
    # SuperNodes each target lists online (a target missing: not known; None: none known)
    nodes_online: Mapping[str, int] | None = None
    # per target, which nodes are online and their labels (for selectors; None: not needed)
    node_labels: Mapping[str, NodeLabels] | None = None
    store_error: str = ""  # the cycle stopped: nothing was acted on
    store_write_error: str = ""  # a write that does not stop the cycle failed (run statuses,
    # the cycle record, the report's read): retried next cycle
    push_error: str = ""  # the report step could not push status files
    artifact_error: str = ""  # what a finished run left could not be read: tried next cycle
    artifacts_read: bool = False  # the cycle read the artifact store (for the failure log)
    pushed: bool | None = None  # the report step pushed (True), failed to (False), or did not try
    duration: float = 0.0
    fetch_duration: float | None = None  # seconds the fetch took, failed or not; None: not tried

    @property
    def ok(self) -> bool:
        failed = any(not r.ok for r in self.results)
        return not (failed or self.source_error or self.runtime_error or self.store_error) and (
            not self.artifact_error
        )

    @property
    def errors(self) -> list[str]:
        found = [self.source_error, self.runtime_error, self.store_error, self.artifact_error]
        return [e for e in found if e] + [r.error for r in self.results if not r.ok]


_PlanInputs = tuple[
    DesiredState,
    dict[FederationKey, RecordedFederation],
    Mapping[FederationKey, RunObservation] | None,
]


# What else a plan depends on: the prune guard's held stops, SuperNodes online, their labels.
_PlanTerms = tuple[
    frozenset[FederationKey], Mapping[str, int] | None, Mapping[str, NodeLabels] | None
]


def _same_inputs(before: _PlanInputs, now: _PlanInputs) -> bool:
    (d0, r0, o0), (d1, r1, o1) = before, now
    same_desired = d0.specs is d1.specs and d0.problems is d1.problems and d0.claimed is d1.claimed
    return (
        same_desired
        and r0.keys() == r1.keys()
        and all(r1[k] is record for k, record in r0.items())
        and o0 == o1
    )


def run_status(run: RunObservation) -> tuple[str, str, str]:
    """The (status, sub_status, details) recorded for a run: `running`, `finished:completed`."""
    status = f"{run.status}:{run.sub_status}" if run.sub_status else run.status
    return (status, run.sub_status, run.details)


def latest_runs(observations: list[RunObservation]) -> dict[FederationKey, RunObservation]:
    """The newest run per federation: highest (generation, attempt)."""
    latest: dict[FederationKey, RunObservation] = {}
    for run in observations:
        seen = latest.get(run.key)
        if seen is None or (run.generation, run.attempt) > (seen.generation, seen.attempt):
            latest[run.key] = run
    return latest


class Reconciler:
    """Holds what survives between cycles (the desired-state cache) and runs cycles."""

    def __init__(
        self,
        *,
        source: GitSource,
        store: Store,
        runtime: Runtime,
        applier: Applier,
        options: PlanOptions,
        report: Callable[[CycleOutcome], None] = lambda outcome: None,
        tracing: Tracing | None = None,
        log_follower: LogFollower | None = None,
        undelivered: UndeliveredReports | None = None,
        prune_confirm: str | None = None,
    ) -> None:
        self.source = source
        self.undelivered = undelivered  # reports finished runs left in the artifact store
        self.prune_confirm = prune_confirm  # `--prune-confirm REVISION`, else None
        self.log_follower = log_follower  # reads progress of apps without the control SDK
        self.tracing = tracing or Tracing.off()
        self.store = store
        self.runtime = runtime
        self.applier = applier
        self.options = options
        self.report = report
        self.desired = DesiredCache(options.policy, options.targets)
        # The last plan: its inputs, its other terms (prune-held keys, SuperNodes online).
        self._last_plan: tuple[_PlanInputs, _PlanTerms, Plan] | None = None
        self._plan_memo = PlanMemo()  # per-federation decisions, reused when unchanged
        # (revision, --prune-confirm) -> how the deletions there were confirmed, or None
        self._confirmed: tuple[tuple[str, str | None], str | None] | None = None
        # Stops the prune guard held back last cycle: held on until confirmed (planner).
        self._prune_held: frozenset[FederationKey] = frozenset()
        self._held_logged: tuple[str | None, int] = (None, 0)  # the mass deletion last logged
        self.last_fetch_ok: float | None = None  # monotonic time of the last good fetch
        # (target, run id) -> (status, sub_status, details) as last written to `runs` by this process
        self._run_statuses: dict[tuple[str, int], tuple[str, str, str]] = {}

    def cycle(self) -> CycleOutcome:
        outcome = CycleOutcome(started_at=datetime.now(UTC))
        began = time.monotonic()
        with self.tracing.span(RECONCILE) as span:
            try:
                self._run_steps(outcome)
            finally:
                outcome.duration = time.monotonic() - began
                self._record(outcome)
                self.report(outcome)
                span.set_attributes(
                    {
                        "revision": outcome.revision or "",
                        "actions": len(outcome.results),
                        "result": "success" if outcome.ok else "error",
                    }
                )
        return outcome

    def _run_steps(self, outcome: CycleOutcome) -> None:
        desired = self._load(outcome)
        if desired is None:
            return  # nothing known yet: acting now could only be wrong
        try:
            recorded = self.store.load_recorded()
        except StoreError as exc:
            outcome.store_error = f"recorded state unavailable: {exc}"
            return
        observed = self._observe(outcome)
        try:
            recorded = self._follow_logs(recorded, observed)
            recorded, observed = self._collect_undelivered(recorded, observed, outcome)
        except StoreError as exc:
            outcome.store_error = f"recorded state unavailable: {exc}"
            return
        planned = self._plan(desired, recorded, observed, outcome)
        outcome.plan = self._guarded(planned, desired, recorded, observed)
        outcome.results = self.applier.apply(outcome.plan, recorded)

    def _plan(
        self,
        desired: DesiredState,
        recorded: dict[FederationKey, RecordedFederation],
        observed: Mapping[FederationKey, RunObservation] | None,
        outcome: CycleOutcome,
    ) -> Plan:
        """`plan()`, or the last plan when its inputs are unchanged: the planner is pure, and
        the store and desired-state cache hand back the very same objects when nothing moved."""
        nodes_online, node_labels = outcome.nodes_online, outcome.node_labels
        last, terms = self._last_plan, (self._prune_held, nodes_online, node_labels)
        if (
            last is not None
            and last[1] == terms
            and _same_inputs(last[0], (desired, recorded, observed))
        ):
            return replace(last[2], revision=desired.revision)
        result = plan(
            desired,
            recorded,
            observed,
            self.options,
            memo=self._plan_memo,
            prune_held=self._prune_held,
            nodes_online=nodes_online,
            node_labels=node_labels,
        )
        self._last_plan = ((desired, recorded, observed), terms, result)
        return result

    def _guarded(
        self,
        result: Plan,
        desired: DesiredState,
        recorded: dict[FederationKey, RecordedFederation],
        observed: Mapping[FederationKey, RunObservation] | None,
    ) -> Plan:
        """The plan, or, when the prune guard held a mass deletion back and a person
        confirmed this deletion (source.confirm), the plan that carries it out."""
        self._prune_held = frozenset(
            a.key for a in result.actions if a.kind is ActionKind.PRUNE_BLOCKED
        )
        if not self._prune_held:
            return result
        how = self._confirmation(desired.revision)
        if how is None:
            if self._held_logged != (desired.revision, result.prune_blocked):
                self._held_logged = (desired.revision, result.prune_blocked)
                log.warning(
                    "prune guard: holding back %d stops of deleted spec files at %s until "
                    "a person confirms (trailer 'Thunderline-Prune: confirm' or "
                    "--prune-confirm REVISION)",
                    result.prune_blocked,
                    (desired.revision or "?")[:12],
                )
            return result
        log.warning(
            "prune guard: %d stops of deleted spec files confirmed by %s",
            result.prune_blocked,
            how,
        )
        self._prune_held = frozenset()
        return plan(
            desired, recorded, observed, self.options, memo=self._plan_memo, prune_confirmed=True
        )

    def _confirmation(self, revision: str | None) -> str | None:
        """How the deletions at `revision` were confirmed, or None; asked of Git once per
        revision, and only while the guard holds something back."""
        if revision is None:
            return None
        asked = (revision, self.prune_confirm)
        if self._confirmed is not None and self._confirmed[0] == asked:
            return self._confirmed[1]
        try:
            how = self.source.prune_confirmation(revision, self.prune_confirm)
        except SourceError as exc:
            log.warning("prune guard: cannot tell whether %s was confirmed: %s", revision, exc)
            return None  # not remembered: asked again next cycle
        self._confirmed = (asked, how)
        return how

    def _follow_logs(
        self,
        recorded: dict[FederationKey, RecordedFederation],
        observed: Mapping[FederationKey, RunObservation] | None,
    ) -> dict[FederationKey, RecordedFederation]:
        """Progress of apps that do not report it, from Flower's logs (recorded through the
        progress sink); the recorded state is read again when that changed anything."""
        if self.log_follower is None or observed is None:
            return recorded
        if not self.log_follower.follow(recorded, observed):
            return recorded
        return self.store.load_recorded()

    def _collect_undelivered(
        self,
        recorded: dict[FederationKey, RecordedFederation],
        observed: Mapping[FederationKey, RunObservation] | None,
        outcome: CycleOutcome,
    ) -> tuple[
        dict[FederationKey, RecordedFederation], Mapping[FederationKey, RunObservation] | None
    ]:
        """Record what finished runs could not deliver (daemon/undelivered.py) before the
        planner reads their end; the recorded state is read again when that changed it."""
        if self.undelivered is None or observed is None:
            return recorded, observed
        found = self.undelivered.collect(recorded, observed)
        outcome.artifact_error = found.artifact_error
        outcome.artifacts_read = found.looked > 0
        if found.recorded:
            recorded = self.store.load_recorded()
        return recorded, found.observed

    def _load(self, outcome: CycleOutcome) -> DesiredState | None:
        """Fetch and load; on a failed fetch, fall back to the last good desired state."""
        began = time.monotonic()
        try:
            snapshot = self.source.fetch()
            outcome.fetch_duration = time.monotonic() - began
            outcome.revision = snapshot.revision
            outcome.desired = self.desired.refresh(self.source, snapshot.revision)
            outcome.spec_revisions = self.desired.loaded_at
            self.last_fetch_ok = time.monotonic()
        except SourceError as exc:
            if outcome.fetch_duration is None:  # the fetch itself failed, not the load after it
                outcome.fetch_duration = time.monotonic() - began
            outcome.source_error = f"cannot fetch {self.source.display_url}: {exc}"
            if self.desired.loaded:
                outcome.revision = self.desired.state.revision
                outcome.desired = self.desired.state
                outcome.spec_revisions = self.desired.loaded_at
        return outcome.desired

    def _observe(self, outcome: CycleOutcome) -> Mapping[FederationKey, RunObservation] | None:
        try:
            observations = self.runtime.observe()
        except RuntimeFailure as exc:
            outcome.runtime_error = f"Flower runtime unavailable: {exc}"
            return None
        self._record_run_statuses(observations, outcome)
        online = self._nodes_online()
        outcome.nodes_online = {target: len(nodes) for target, nodes in online.items()}
        outcome.node_labels = self._node_labels(online, outcome.desired)
        return latest_runs(observations)

    def _nodes_online(self) -> dict[str, tuple[int, ...]]:
        """The SuperNodes each target has online, for admission; a target whose nodes
        cannot be listed is left out (then no start there waits for nodes: a listing
        failure must not hold everything back)."""
        online = {}
        for target in self.runtime.targets:
            try:
                nodes = self.runtime.nodes(target=target)
            except RuntimeFailure as exc:
                log.info("SuperNodes of target %s not listed this cycle: %s", target, exc)
                continue
            online[target] = tuple(sorted(node.node_id for node in nodes if node.online))
        return online

    def _node_labels(
        self, online: Mapping[str, tuple[int, ...]], desired: DesiredState | None
    ) -> dict[str, NodeLabels] | None:
        """Per target, the labels runs reported for its online nodes (node ids are random
        64-bit numbers, one table serves every target), read only while some spec has a
        selector; None (every online node counts) when not needed or not readable."""
        specs = desired.specs.values() if desired is not None else ()
        if not online or not any(spec.selector.restricts for spec in specs):
            return None
        try:
            by_tenant = self.store.node_labels()
        except StoreError as exc:
            log.info("node labels not read this cycle: %s", exc)
            return None
        return {target: NodeLabels(nodes, by_tenant) for target, nodes in online.items()}

    def _record_run_statuses(
        self, observations: list[RunObservation], outcome: CycleOutcome
    ) -> None:
        """`runs.status` follows Flower's: the runs whose status changed since this process
        last wrote it, in one statement (all observed runs once after a start). A failure
        costs nothing but the write: it is tried again next cycle."""
        known = self._run_statuses
        changed = {
            (run.target, run.run_id): seen
            for run in observations
            if known.get((run.target, run.run_id)) != (seen := run_status(run))
        }
        if not changed:
            return
        try:
            self.store.update_run_statuses([(*run, *s) for run, s in changed.items()])
        except StoreError as exc:
            outcome.store_write_error = f"run statuses not recorded: {exc}"
            return
        known.update(changed)

    def _record(self, outcome: CycleOutcome) -> None:
        if outcome.store_error:
            return
        try:
            self.store.record_cycle(
                revision=outcome.revision,
                started_at=outcome.started_at,
                finished_at=datetime.now(UTC),
                actions=len(outcome.results),
                errors=outcome.errors,
            )
        except StoreError as exc:  # logged by the daemon's FailureLog, with the other steps
            outcome.store_write_error = f"could not record the cycle: {exc}"
