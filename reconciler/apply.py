"""Carry out a `Plan`: each action through the Flower runtime and the store.

Called by the daemon's cycle right after `plan`. Decisions were taken by the planner; this
module only acts, one federation at a time, and isolates failures: an action that fails is
returned as a failed `ActionResult` (the status gets `ApplyFailed`) and the others still run.

Crash safety: a Flower run is submitted before the transition that records it, and a
launch first asks the runtime for a run already started for the same (federation,
generation, attempt). A daemon killed between submit and commit therefore adopts its run on
the next cycle instead of starting a second one.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Collection, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.artifacts import ArtifactError
from reconciler.artifacts.verify import check_stored
from reconciler.coldstart import start_new
from reconciler.faults import fault_point
from reconciler.lifecycle import IllegalTransition
from reconciler.lineage import resume_point
from reconciler.model import (
    DEFAULT_TARGETS,
    FederationKey,
    FederationSpec,
    Phase,
    RecordedFederation,
    TargetNames,
    spec_target,
)
from reconciler.plan import Action, ActionKind, Plan
from reconciler.runtime.base import (
    Artifact,
    RunNotFound,
    RunRejected,
    RunRequest,
    Runtime,
    RuntimeFailure,
    RuntimeUnavailable,
)
from reconciler.specs.policy import DEFAULT_POLICY, Policy, bucket_name
from reconciler.specs.rules import prefix_problem
from reconciler.store import ArtifactRecord, ConflictError, NotFound, Store, StoreError
from reconciler.telemetry.names import FEDERATION_START
from reconciler.telemetry.tracing import Tracing, federation_attributes, traceparent

if TYPE_CHECKING:
    from opentelemetry.trace import Span

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class LaunchContext:
    """What every run submitted by this daemon shares."""

    progress_url: str  # where the ServerApp reports, e.g. http://127.0.0.1:8080/v1/progress
    repo_root: Path  # the daemon's checkout: relative URIs in specs resolve against it
    artifact_root: str | None  # local folder for checkpoints, or None for S3 buckets
    policy: Policy = DEFAULT_POLICY  # the tenant policy: which strategy paths a run may import
    targets: TargetNames = DEFAULT_TARGETS  # the SuperLinks `spec.target` may name


@dataclass(frozen=True, slots=True)
class ActionResult:
    action: Action
    error: str = ""  # a sentence for the status report; empty on success
    transient: bool = False  # retrying next cycle may help (else: needs a person)

    @property
    def ok(self) -> bool:
        return not self.error


def checkpoint_base(
    document: Mapping[str, Any], key: FederationKey, generation: int, root: str | None
) -> str:
    """Where a generation's checkpoints go: <bucket>/<tenant>/<prefix>/g<generation>.

    The tenant folder comes from the federation's key, never from the spec, so no prefix
    can reach another tenant's checkpoints (the prefix defaults to the federation's name;
    one that could leave its folder is refused here as well as by `validate`). With a local
    artifact root the bucket becomes a folder under it, so the same spec runs on a laptop
    and against S3 unchanged.
    """
    artifacts = document.get("spec", {}).get("artifacts", {})
    bucket = str(artifacts.get("outputBucket", "s3://thunderline")).rstrip("/")
    prefix = str(artifacts.get("prefix") or key.name)
    problem = prefix_problem(prefix)
    if problem:
        raise RunRejected(f"{key}: spec.artifacts.prefix {prefix!r}: {problem}")
    where = f"{key.tenant}/{prefix.removesuffix('/')}/g{generation}"
    if root is None:
        bucket = bucket if "://" in bucket else f"s3://{bucket}"  # a bare bucket name is S3
        return f"{bucket}/{where}"
    return (_resolved(root) / bucket_name(bucket) / where).as_uri()


@lru_cache(maxsize=8)
def _resolved(folder: str) -> Path:
    """A configured folder, resolved once: resolving walks the file system, and a cold
    start over 10,000 specs asks twice per federation."""
    return Path(folder).resolve()


class Applier:
    """Carries out plans; one per daemon, used from the cycle thread only."""

    def __init__(
        self,
        store: Store,
        runtime: Runtime,
        context: LaunchContext,
        tracing: Tracing | None = None,
    ) -> None:
        self.store = store
        self.runtime = runtime
        self.context = context
        self.tracing = tracing or Tracing.off()
        self._handlers = {
            ActionKind.START: self._start,
            ActionKind.UPDATE: self._update,
            ActionKind.REPLACE: self._replace,
            ActionKind.PAUSE: self._pause,
            ActionKind.RESUME: self._resume,
            ActionKind.STOP: self._stop,
            ActionKind.RECOVER: self._recover,
            ActionKind.FAIL: self._fail,
            ActionKind.COMPLETE: self._complete,
            ActionKind.QUEUED: self._hold,
            ActionKind.WAITING: self._hold,
        }

    def apply(
        self, plan: Plan, recorded: Mapping[FederationKey, RecordedFederation] | None = None
    ) -> list[ActionResult]:
        """Carry out every state-changing action. Brand-new federations (not in `recorded`)
        are started in bulk; everything else one action at a time. A new federation whose
        start is held back is recorded Pending, which gives it its place in the queue."""
        actions = [a for a in plan.actions if a.kind.changes_state or _new_held(a, recorded)]
        new = [] if recorded is None else [a for a in actions if _new_start(a, recorded)]
        results = self._start_new(new) if len(new) > 1 else []
        batched = {a.key for a in new} if results else set()
        results += [self.apply_one(a) for a in actions if a.key not in batched]
        if recorded is not None:
            self._catch_up(plan, recorded)
        return results

    def _catch_up(self, plan: Plan, recorded: Mapping[FederationKey, RecordedFederation]) -> None:
        """Mark observed a generation whose action was carried out but not marked (the
        daemon died in between): the plan has nothing left to do for it."""
        planned = {a.key for a in plan.actions}
        for key, record in recorded.items():
            if key not in planned and record.phase is not Phase.PENDING:
                self._mark_observed(record)

    def _start_new(self, actions: list[Action]) -> list[ActionResult]:
        def request(record: RecordedFederation) -> RunRequest:
            attempt = record.attempt + 1
            # In bulk the launch span covers building the request; submits follow per chunk.
            with self._start_span(record, attempt) as span:
                span.set_attribute("round_num", 1)
                return self._request(record, attempt, resume=False, trace=traceparent(span))

        def rejected(action: Action, exc: RunRejected) -> tuple[Action, str, bool]:
            result = self._rejected(action, exc)
            return action, result.error, result.transient

        done = start_new(
            actions, store=self.store, runtime=self.runtime, request=request, rejected=rejected
        )
        return [ActionResult(action, error, transient) for action, error, transient in done]

    def apply_one(self, action: Action) -> ActionResult:
        try:
            self._handlers[action.kind](action)
        except RunRejected as exc:
            return self._rejected(action, exc)
        except (RuntimeFailure, StoreError) as exc:
            return ActionResult(action, f"{action.kind} failed: {exc}", transient=True)
        except IllegalTransition as exc:
            log.error("planner and lifecycle disagree on %s: %s", action.key, exc)
            return ActionResult(action, f"{action.kind} refused: {exc}")
        except Exception as exc:  # an unknown failure counts as transient, and is logged whole
            log.exception("%s of %s failed unexpectedly", action.kind, action.key)
            return ActionResult(action, f"{action.kind} failed: {exc}", transient=True)
        self._observed(action.key)
        return ActionResult(action)

    def _observed(self, key: FederationKey) -> None:
        """The generation an action was carried out for is now observed (status contract)."""
        with contextlib.suppress(StoreError):  # a later cycle marks it; nothing is lost
            self._mark_observed(self.store.get(key))

    def _mark_observed(self, record: RecordedFederation) -> None:
        if record.observed_generation < record.generation:
            with contextlib.suppress(StoreError):  # changed meanwhile: a later cycle marks it
                self.store.mark_observed(
                    record.key, record.generation, expected_version=record.version
                )

    # --- actions ------------------------------------------------------------------------

    def _start(self, action: Action) -> None:
        record = self._existing(action.key)
        if record is None:
            record = self.store.create(_spec(action))
        elif action.changes:  # changed while Pending: launch the new generation
            record = self._record_spec(record, action, to=None)
        self._launch(record, resume=False)

    def _hold(self, action: Action) -> None:
        if self._existing(action.key) is None:
            self.store.create(_spec(action))

    def _update(self, action: Action) -> None:
        record = self.store.get(action.key)
        self._record_spec(record, action, to=None)

    def _pause(self, action: Action) -> None:
        record = self._existing(action.key)
        if record is None:
            record = self.store.create(_spec(action))
            self._transition(record, Phase.PAUSED, reason="created paused")
        elif action.changes:
            self._record_spec(record, action, to=Phase.PAUSED)
        else:
            self._transition(record, Phase.PAUSED, reason=action.reason)

    def _resume(self, action: Action) -> None:
        record = self.store.get(action.key)
        if action.changes:
            record = self._record_spec(record, action, to=None)
        self._stop_run(record)  # the paused run may still be finishing its last round
        self._launch(record, resume=True)

    def _stop(self, action: Action) -> None:
        record = self.store.get(action.key)
        self._stop_run(record)
        if action.spec is not None and action.changes:
            self._record_spec(record, action, to=Phase.STOPPED)
        else:
            self._transition(record, Phase.STOPPED, reason=action.reason)

    def _replace(self, action: Action) -> None:
        record = self.store.get(action.key)
        if not record.phase.terminal:
            self._stop_run(record)
            record = self._transition(record, Phase.STOPPED, reason="replaced by a new generation")
        record = self._record_spec(record, action, to=Phase.PENDING)
        if _spec(action).paused:
            self._transition(record, Phase.PAUSED, reason="new generation created paused")
        else:
            self._launch(record, resume=False)

    def _recover(self, action: Action) -> None:
        record = self.store.get(action.key)
        self._stop_run(record)
        self._launch(record, resume=True, recovery=action.reason)

    def _fail(self, action: Action) -> None:
        record = self.store.get(action.key)
        self._stop_run(record)
        self._transition(record, Phase.FAILED, reason=action.reason)

    def _complete(self, action: Action) -> None:
        record = self.store.get(action.key)
        problem = self._final_checkpoint_problem(record)
        if problem:
            self._transition(record, Phase.FAILED, reason=problem)
            return
        self._transition(record, Phase.COMPLETED, reason=action.reason)

    def _final_checkpoint_problem(self, record: RecordedFederation) -> str:
        """Why the recorded final checkpoint is not what the artifact store holds ("" when it
        is, or when none was recorded); the progress sink checks the same on a report."""
        generation = record.run_generation or record.generation
        final = self.store.artifact_for(record.key, generation, record.total_rounds)
        if final is None:
            return ""
        base = checkpoint_base(record.document, record.key, generation, self.context.artifact_root)
        try:
            mismatch = check_stored(final.uri, sha256=final.sha256, size=final.size, base=base)
        except ArtifactError as exc:
            raise RuntimeUnavailable(f"final checkpoint cannot be read back now: {exc}") from None
        if mismatch is None:
            return ""
        return f"the final checkpoint failed verification: {mismatch.detail}"

    # --- steps --------------------------------------------------------------------------

    def _launch(self, record: RecordedFederation, *, resume: bool, recovery: str = "") -> None:
        """Submit (or adopt) the next run of the current generation; phase -> Starting."""
        attempt = record.attempt + 1
        with self._start_span(record, attempt) as span:
            request = self._request(record, attempt, resume=resume, trace=traceparent(span))
            span.set_attribute("round_num", request.start_round)
            run_id = self.runtime.find_run(
                record.key, record.generation, attempt, target=request.target
            )
            if run_id is None:
                fault_point("apply.before-submit")
                run_id = self.runtime.submit(request)
                fault_point("apply.after-submit")
            span.set_attribute("run_id", run_id)
            self._record_launch(record, request, run_id, recovery)
        fault_point("apply.after-commit")

    def _start_span(self, record: RecordedFederation, attempt: int) -> AbstractContextManager[Span]:
        """The root span of a federation run's trace, linked to the cycle's span; the
        ServerApp's round spans join it through the request's traceparent."""
        attributes = federation_attributes(
            str(record.key), generation=record.generation, attempt=attempt
        )
        return self.tracing.span(FEDERATION_START, attributes, new_trace=True)

    def _record_launch(
        self, record: RecordedFederation, request: RunRequest, run_id: int, recovery: str
    ) -> None:
        attempt = request.attempt
        self.store.record_run(
            record.key,
            generation=record.generation,
            attempt=attempt,
            run_id=run_id,
            status="pending",
            target=request.target,
        )
        fault_point("apply.after-run-recorded")
        payload = {"run_id": run_id, "target": request.target, "start_round": request.start_round}
        self.store.transition(
            record.key,
            Phase.STARTING,
            expected_version=record.version,
            reason=recovery,
            payload=payload,
            attempt=attempt,
            recoveries=record.recoveries + bool(recovery),
        )

    def _request(
        self, record: RecordedFederation, attempt: int, *, resume: bool, trace: str = ""
    ) -> RunRequest:
        start_round, resume_from = 1, None
        point = self._resume_point(record) if resume else None
        if point is not None:
            start_round, resume_from = point.round + 1, Artifact(point.uri, point.sha256)
        ctx = self.context
        return RunRequest(
            key=record.key,
            generation=record.generation,
            attempt=attempt,
            document=dict(record.document),
            checkpoint_base=checkpoint_base(
                record.document, record.key, record.generation, ctx.artifact_root
            ),
            repo_root=str(_resolved(str(ctx.repo_root))),
            progress_url=ctx.progress_url,
            start_round=start_round,
            resume_from=resume_from,
            traceparent=trace,
            strategies=ctx.policy.rules_for(record.key.tenant).strategies,
            target=self._target(record),
        )

    def _target(self, record: RecordedFederation) -> str:
        """The SuperLink the spec names (or the default one); the spec check refuses others,
        so a miss here means the daemon's targets changed under a recorded spec."""
        named = spec_target(record.document)
        target = self.context.targets.resolve(named)
        if target is None:
            raise RunRejected(f"{record.key}: {self.context.targets.problem(named)}")
        return target

    def _resume_point(self, record: RecordedFederation) -> ArtifactRecord | None:
        key = record.key
        return resume_point(self.store.rounds(key), self.store.artifacts(key), record.current_round)

    def _stop_run(self, record: RecordedFederation) -> None:
        generation = record.run_generation or record.generation
        found = self.store.run_and_target_for(record.key, generation, record.attempt)
        if found is None:
            return
        target, run_id = found
        with contextlib.suppress(RunNotFound):  # gone already (or its target): nothing to stop
            self.runtime.stop(run_id, target=target)
        fault_point("apply.after-stop")

    def _record_spec(
        self, record: RecordedFederation, action: Action, *, to: Phase | None
    ) -> RecordedFederation:
        return self.store.replace_spec(
            record.key,
            _spec(action),
            expected_version=record.version,
            to=to,
            changed=[c.path for c in action.changes],
        )

    def _transition(
        self, record: RecordedFederation, to: Phase, *, reason: str
    ) -> RecordedFederation:
        return self.store.transition(record.key, to, expected_version=record.version, reason=reason)

    def _existing(self, key: FederationKey) -> RecordedFederation | None:
        try:
            return self.store.get(key)
        except NotFound:
            return None

    def _rejected(self, action: Action, exc: RunRejected) -> ActionResult:
        """The SuperLink refused the run: retrying cannot help, the federation fails."""
        message = f"Flower refused the run: {exc}"
        try:
            record = self.store.get(action.key)
            if not record.phase.terminal:
                self._transition(record, Phase.FAILED, reason=message)
        except (StoreError, ConflictError, IllegalTransition) as store_exc:
            return ActionResult(action, f"{message}; recording it failed: {store_exc}", True)
        return ActionResult(action, message)


def _new_start(action: Action, recorded: Collection[FederationKey]) -> bool:
    return action.kind is ActionKind.START and action.key not in recorded


def _new_held(action: Action, recorded: Collection[FederationKey] | None) -> bool:
    held = action.kind is ActionKind.QUEUED or action.kind is ActionKind.WAITING
    return held and recorded is not None and action.key not in recorded


def _spec(action: Action) -> FederationSpec:
    if action.spec is None:
        raise ValueError(f"{action.kind} of {action.key} carries no spec")
    return action.spec
