"""An in-memory `Runtime` for testing the layers above the Flower driver.

Deterministic and synchronous: runs only move when the test says so. `advance(run_id)`
plays one round the way the real ServerApp does (round_started, client_joined on the
first round, round_completed, checkpoint, then paused / stopped / completed as the
sink's directives say) into the attached `ProgressSink`. `fail(run_id)` ends a run the
way a SuperLink restart does; `unavailable = True` makes every call raise
`RuntimeUnavailable`. Checkpoints are real files under the run's `checkpoint_base` (a
file:// folder), so the daemon can read back what is reported; a report the sink refuses
is answered with the refusal's directive, as `ProgressClient` would.
"""

from __future__ import annotations

import hashlib
import tempfile
from dataclasses import dataclass, field, replace
from pathlib import Path

from reconciler.artifacts import open_store
from reconciler.flowerapp.settings import plan_problems
from reconciler.model import DEFAULT_TARGET, FederationKey, RunObservation
from reconciler.runtime.base import (
    NodeInfo,
    RunNotFound,
    RunRejected,
    RunRequest,
    RuntimeUnavailable,
    require_target,
)
from reconciler.runtime.progress import (
    ArtifactInfo,
    Directive,
    ProgressReport,
    ProgressSink,
    ReportKind,
    ReportRefused,
)

HEARTBEAT_FAILURE = "No heartbeat received from the task"


@dataclass
class FakeRun:
    run_id: int
    request: RunRequest  # as submitted, less its document: only rounds.total is read from it
    total_rounds: int
    status: str = "running"
    sub_status: str = ""
    details: str = ""
    next_round: int = 0
    checkpoint: ArtifactInfo | None = None
    log: list[str] = field(default_factory=list)
    _observation: RunObservation | None = field(default=None, repr=False, compare=False)

    def finish(self, sub_status: str, details: str = "") -> None:
        self.status, self.sub_status, self.details = "finished", sub_status, details

    def observation(self) -> RunObservation:
        """What the SuperLink says about the run: the same object until its status changes
        (10,000 idle runs cost the daemon's benchmark no new objects per cycle)."""
        seen = self._observation
        now = (self.status, self.sub_status, self.details)
        if seen is None or (seen.status, seen.sub_status, seen.details) != now:
            req = self.request
            seen = self._observation = RunObservation(
                key=req.key,
                run_id=self.run_id,
                generation=req.generation,
                attempt=req.attempt,
                status=self.status,
                sub_status=self.sub_status,
                details=self.details,
                target=req.target,
            )
        return seen


class FakeRuntime:
    """A `Runtime` whose runs advance one round per `advance(run_id)` call."""

    def __init__(
        self, sink: ProgressSink | None = None, *, nodes: int = 3, name: str = DEFAULT_TARGET
    ) -> None:
        self.sink = sink
        self.name = name  # the one target it is
        self.unavailable = False
        self.runs: dict[int, FakeRun] = {}
        # (federation, generation, attempt) -> run id: adoption lookups stay O(1) at 10k runs.
        self._by_identity: dict[tuple[FederationKey, int, int], int] = {}
        self.set_nodes(nodes)

    def set_nodes(self, online: int) -> None:
        """SuperNodes `1000 ..` online from now on (what ListNodes answers)."""
        self._nodes = [
            NodeInfo(node_id=1000 + i, online=True, status="online") for i in range(online)
        ]

    @property
    def targets(self) -> tuple[str, ...]:
        return (self.name,)

    def _check(self, target: str | None = None) -> None:
        require_target(self.name, self.name if target is None else target)
        if self.unavailable:
            raise RuntimeUnavailable("fake SuperLink is unavailable")

    def _run(self, run_id: int) -> FakeRun:
        if run_id not in self.runs:
            raise RunNotFound(f"run {run_id} not found")
        return self.runs[run_id]

    def submit(self, req: RunRequest) -> int:
        self._check(req.target)
        problems = plan_problems(req.document)
        if problems:
            raise RunRejected(f"{req.key}: " + "; ".join(problems))
        existing = self.find_run(req.key, req.generation, req.attempt, target=req.target)
        if existing is not None:
            return existing
        run_id = len(self.runs) + 1
        total = int(req.document.get("spec", {}).get("rounds", {}).get("total", 1))
        run = FakeRun(run_id, replace(req, document={}), total, next_round=req.start_round)
        if req.resume_from is not None:
            run.checkpoint = ArtifactInfo(req.resume_from.uri, req.resume_from.sha256, 2048)
        self.runs[run_id] = run
        self._by_identity[(req.key, req.generation, req.attempt)] = run_id
        return run_id

    def find_run(
        self,
        federation: FederationKey,
        generation: int,
        attempt: int,
        *,
        target: str = DEFAULT_TARGET,
    ) -> int | None:
        self._check(target)
        return self._by_identity.get((federation, generation, attempt))

    def observe(self) -> list[RunObservation]:
        self._check()
        return [run.observation() for run in self.runs.values()]

    def stop(self, run_id: int, *, target: str = DEFAULT_TARGET) -> None:
        self._check(target)
        run = self._run(run_id)
        if run.status != "finished":
            run.finish("stopped")

    def logs(self, run_id: int, *, after: float = 0, target: str = DEFAULT_TARGET) -> list[str]:
        self._check(target)
        return list(self._run(run_id).log)

    def nodes(self, *, target: str = DEFAULT_TARGET) -> list[NodeInfo]:
        self._check(target)
        return list(self._nodes)

    def fail(self, run_id: int, details: str = HEARTBEAT_FAILURE) -> None:
        """End a run as failed without any report (what a SuperLink restart looks like)."""
        self._run(run_id).finish("failed", details)

    def advance(self, run_id: int) -> Directive:
        """Play the run's next round into the sink; return the directive it ended with."""
        run = self._run(run_id)
        if run.status == "finished":
            raise RunNotFound(f"run {run_id} already finished")
        total = run.total_rounds
        rnd = run.next_round
        directive = self._emit(run, ReportKind.ROUND_STARTED, rnd)
        if directive != Directive.CONTINUE:
            return self._halt(run, directive, rnd - 1)
        if rnd == 1:
            for node in self._nodes:
                self._emit(run, ReportKind.CLIENT_JOINED, rnd, message=str(node.node_id))
        metrics = {"accuracy": round(0.5 + 0.4 * rnd / total, 6), "loss": round(1.0 / rnd, 6)}
        self._emit(run, ReportKind.ROUND_COMPLETED, rnd, metrics=metrics)
        artifact = run.checkpoint = self._checkpoint(run, rnd)
        directive = self._emit(run, ReportKind.CHECKPOINT, rnd, artifact=artifact)
        run.next_round = rnd + 1
        if rnd >= total:
            self._emit(run, ReportKind.COMPLETED, rnd, metrics=metrics, artifact=artifact)
            run.finish("completed")
            return directive
        if directive != Directive.CONTINUE:
            return self._halt(run, directive, rnd)
        return directive

    def _halt(self, run: FakeRun, directive: Directive, last_round: int) -> Directive:
        kind = ReportKind.PAUSED if directive == Directive.PAUSE else ReportKind.STOPPED
        self._emit(run, kind, last_round, artifact=run.checkpoint)
        run.finish("completed")
        return directive

    def _checkpoint(self, run: FakeRun, rnd: int) -> ArtifactInfo:
        """2048 bytes that depend on the federation, generation and round, stored for real."""
        seed = hashlib.sha256(f"{run.request.key}:{run.request.generation}:{rnd}".encode())
        content = (seed.digest() * 64)[:2048]
        with tempfile.TemporaryDirectory(prefix="thunderline-fake-") as tmp:
            local = Path(tmp) / "checkpoint.npz"
            local.write_bytes(content)
            ref = open_store(run.request.checkpoint_base).put(local, f"round-{rnd:04d}.npz")
        return ArtifactInfo(ref.uri, ref.sha256, ref.size, "npz")

    def _emit(self, run: FakeRun, kind: ReportKind, rnd: int, **extra: object) -> Directive:
        run.log.append(f"{kind} round {rnd}")
        if self.sink is None:
            return Directive.CONTINUE
        req = run.request
        report = ProgressReport(
            federation=str(req.key),
            generation=req.generation,
            attempt=req.attempt,
            run_id=run.run_id,
            kind=kind,
            round=rnd,
            **extra,  # type: ignore[arg-type]
        )
        try:
            return self.sink.report(report)
        except ReportRefused as exc:
            return exc.refusal.directive or Directive.CONTINUE
