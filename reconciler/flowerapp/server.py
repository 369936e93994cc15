"""The ServerApp: runs a FederationSpec's rounds and reports every step to the daemon.

Flower starts it in each run (through the thin FAB in `flowerapp/fab`). One run covers
rounds `control.start_round .. rounds.total`; a resumed run starts from the checkpoint
in `control.resume_from`, so round numbers continue across runs. After each round it
writes a checkpoint, reports it, and obeys the daemon's directive at that boundary:
`pause` and `stop` end the run cleanly after reporting `paused` / `stopped`.
A failure is reported as `failed` with its reason, then raised so that Flower records
the run as failed too.

Reports carry a token the ServerApp derives from the progress key in the SuperLink side's
environment and its own Flower run id (`runtime.progress.run_client`); no credential is in
the run config. A report the daemon refuses is logged and the run goes on (obeying the
directive the refusal carries, e.g. stop for a superseded attempt), except a refused token
(HTTP 401): then nothing this run reports can count, so it fails with that reason.

Traces: the run joins the federation's trace (the daemon's `thunderline.federation.start`
span, passed as `control.traceparent`) with one `thunderline.round` span per round, holding
`thunderline.aggregate` and `thunderline.artifact.write`, and ends with
`thunderline.federation.complete` (completed or failed). Exported as `telemetry.tracing`
configures from the inherited `OTEL_*` variables and the spec's `telemetry.otlp`; flushed
before `main` returns. The aggregation time also goes to the daemon in the checkpoint report.
"""

from __future__ import annotations

import json
import random
import tempfile
import time
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from functools import partial
from logging import INFO, WARNING
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
from flwr.app import Array, ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from flwr.serverapp import Grid, ServerApp
from flwr.serverapp.strategy import Strategy
from flwr.supercore import log

from reconciler.artifacts import ArtifactError, IntegrityError, fetch_verified, open_store
from reconciler.flowerapp import exchange
from reconciler.flowerapp.data import ShardError, load_xy
from reconciler.flowerapp.lease import Lease, dropped_metrics
from reconciler.flowerapp.model import (
    FloatArray,
    IntArray,
    ModelFormatError,
    Params,
    check_params,
    evaluate,
    load_model,
    npz_bytes,
)
from reconciler.flowerapp.nodes import NodeBook, Selected
from reconciler.flowerapp.settings import (
    CONTROL_KEY,
    FEDERATION_KEY,
    AppConfigError,
    Control,
    Plan,
    parse_control,
    parse_plan,
)
from reconciler.flowerapp.strategies import build_strategy
from reconciler.flowerapp.undelivered import keep_undelivered
from reconciler.runtime.progress import (
    ArtifactInfo,
    Directive,
    ProgressReport,
    ProgressSink,
    ProgressUnauthorised,
    ReportKind,
    run_client,
    send_report,
)
from reconciler.selector import Labels
from reconciler.telemetry.names import (
    AGGREGATE,
    AGGREGATE_SECONDS,
    ARTIFACT_WRITE,
    FEDERATION_COMPLETE,
    ROUND,
)
from reconciler.telemetry.tracing import (
    Tracing,
    add_event,
    federation_attributes,
    federation_tracing,
    mark_failed,
)

if TYPE_CHECKING:
    from opentelemetry.trace import Span

EvalSet = tuple[FloatArray, IntArray]
EXPECTED_ERRORS = (AppConfigError, ArtifactError, ModelFormatError, ShardError)


class FederationFailed(Exception):
    """The federation cannot go on; the message is the reason people will read."""


def to_record(params: Params) -> ArrayRecord:
    return ArrayRecord({k: Array.from_numpy_ndarray(v) for k, v in sorted(params.items())})


def from_record(record: ArrayRecord) -> dict[str, np.ndarray]:  # type: ignore[type-arg]
    return {k: record[k].numpy() for k in record}


def seed_everything(seed: int, server_round: int) -> None:
    """Seed the global RNGs Flower's strategies use (node sampling, DP noise)."""
    value = (seed * 1_000_003 + server_round) % 2**32
    random.seed(value)
    np.random.seed(value)


def scalar_metrics(record: MetricRecord | None) -> dict[str, float]:
    if record is None:
        return {}
    return {k: float(v) for k, v in record.items() if isinstance(v, int | float)}


@dataclass
class FederationRun:
    """One Flower run of one federation attempt: rounds, checkpoints, reports."""

    grid: Grid
    control: Control
    sink: ProgressSink
    run_id: int
    last_round: int = 0
    checkpoint: ArtifactInfo | None = None
    directive: Directive = Directive.CONTINUE
    clients: set[int] = field(default_factory=set)
    metrics: dict[str, float] = field(default_factory=dict)
    tracing: Tracing = field(default_factory=Tracing.off)
    book: NodeBook = field(default_factory=NodeBook.anything)  # set from the plan's selector
    dropped: dict[int, str] = field(default_factory=dict)  # this round's: node -> lease reason
    aggregate_seconds: float = 0.0  # the last round's aggregation time
    refused: int = 0  # reports the daemon refused
    _failing: bool = False  # reporting the failure: a refusal now must not raise again

    def report(self, kind: ReportKind, rnd: int, **extra: object) -> Directive:
        report = ProgressReport(
            federation=self.control.federation,
            generation=self.control.generation,
            attempt=self.control.attempt,
            run_id=self.run_id,
            kind=kind,
            round=rnd,
            **extra,  # type: ignore[arg-type]
        )
        try:
            self.directive, refused = send_report(
                self.sink,
                report,
                current=self.directive,
                failing=self._failing,
                warn=partial(log, WARNING),
            )
        except ProgressUnauthorised as exc:
            raise FederationFailed(str(exc)) from None
        self.refused += refused
        return self.directive

    def run(self, federation_json: str) -> None:
        """Run to completion, a pause, or a stop; report and raise on failure."""
        try:
            self._run(parse_plan(json.loads(federation_json)))
        except FederationFailed as exc:
            self._fail(str(exc))
            raise
        except exchange.NodesLost as exc:
            # Not the federation's fault: end the run without a verdict, so the daemon
            # recovers from the last checkpoint (bounded) once the nodes it needs are back.
            log(WARNING, "run ends for recovery: %s", exc)
            raise
        except ArtifactError as exc:
            if exc.transient:
                # The store is down for now: end the run without a verdict, so the daemon
                # recovers from the last checkpoint (bounded) instead of failing the federation.
                log(WARNING, "artifact store unavailable, run ends for recovery: %s", exc)
                raise
            self._fail(str(exc))
            raise FederationFailed(str(exc)) from exc
        except EXPECTED_ERRORS as exc:
            self._fail(str(exc))
            raise FederationFailed(str(exc)) from exc
        except Exception as exc:
            self._fail(f"unexpected error in the ServerApp: {type(exc).__name__}: {exc}")
            raise

    def _fail(self, reason: str) -> None:
        log(WARNING, "federation failed: %s", reason)
        self._failing = True
        with self._span(FEDERATION_COMPLETE, self.last_round, outcome="failed") as span:
            mark_failed(span, reason)
            self.report(ReportKind.FAILED, self.last_round, message=reason)

    def _span(self, name: str, rnd: int, **more: object) -> AbstractContextManager[Span]:
        """A span of this run with the federation's attributes and `round_num`."""
        attributes = federation_attributes(
            self.control.federation,
            round_num=rnd,
            generation=self.control.generation,
            attempt=self.control.attempt,
            **more,
        )
        return self.tracing.span(name, attributes)

    @property
    def selected(self) -> Selected:
        """The grid strategies see: only the nodes the spec's clientSelector allows."""
        return Selected(self.grid, self.book)

    def _run(self, plan: Plan) -> None:
        params, evaluation = self._prepare(plan)
        self.book = NodeBook(plan.selector, self._report_labels)
        self.last_round = self.control.start_round - 1
        strategy = build_strategy(
            plan, sampled_clients=self._sample_size(plan), allowed=self.control.strategies
        )
        for rnd in range(self.control.start_round, plan.rounds_total + 1):
            if self.report(ReportKind.ROUND_STARTED, rnd) != Directive.CONTINUE:
                break
            with self._span(ROUND, rnd):
                params = self._round(plan, strategy, rnd, params, evaluation)
                self.last_round = rnd
                self._save_checkpoint(params, rnd)
            if rnd < plan.rounds_total and self.directive != Directive.CONTINUE:
                break
        self._finish(plan, params, evaluation)

    def _finish(self, plan: Plan, params: Params, evaluation: EvalSet | None) -> None:
        if self.last_round >= plan.rounds_total:
            if not self.metrics and evaluation is not None:
                self.metrics = self._central_metrics(params, evaluation)
            with self._span(FEDERATION_COMPLETE, self.last_round, outcome="completed"):
                self.report(
                    ReportKind.COMPLETED,
                    self.last_round,
                    metrics=self.metrics,
                    artifact=self.checkpoint,
                )
            return
        kind = ReportKind.PAUSED if self.directive == Directive.PAUSE else ReportKind.STOPPED
        log(INFO, "federation %s after round %d", kind, self.last_round)
        self.report(kind, self.last_round, artifact=self.checkpoint)

    def _sample_size(self, plan: Plan) -> int:
        return max(1, int(plan.min_available * plan.client_fraction))

    def _prepare(self, plan: Plan) -> tuple[Params, EvalSet | None]:
        """Verify and load the starting model and the evaluation set before round 1."""
        root = Path(self.control.repo_root)
        evaluation = None
        if plan.evaluation is not None:
            path = fetch_verified(
                plan.evaluation.uri, sha256=plan.evaluation.sha256, repo_root=root
            )
            evaluation = load_xy(path, "npz" if path.suffix == ".npz" else plan.schema)
        resume = self.control.resume_from
        if resume is not None:
            path = fetch_verified(resume.uri, sha256=resume.sha256, repo_root=root)
            arrays, fmt = load_model(path, "npz"), "npz"
            self.checkpoint = ArtifactInfo(
                resume.uri, resume.sha256 or "", path.stat().st_size, fmt
            )
        else:
            path = fetch_verified(plan.model.uri, sha256=plan.model.sha256, repo_root=root)
            arrays = load_model(path, plan.model_format)
        self._verify_local_shards(plan, root)
        features = arrays["weights"].shape[0] if "weights" in arrays else 0
        return check_params(arrays, features), evaluation

    def _verify_local_shards(self, plan: Plan, root: Path) -> None:
        """Check every shard the SuperLink host can read, so a mismatch fails before round 1.

        Shards only the SuperNodes can reach are checked by each ClientApp instead.
        """
        for shard in plan.shards:
            try:
                fetch_verified(shard.uri, sha256=shard.sha256, repo_root=root)
            except IntegrityError as exc:
                raise FederationFailed(f"data shard failed verification: {exc}") from exc
            except ArtifactError:
                continue  # not reachable from here: the SuperNode's ClientApp checks it

    def _round(
        self, plan: Plan, strategy: Strategy, rnd: int, params: Params, evaluation: EvalSet | None
    ) -> Params:
        started = time.monotonic()
        deadline = started + plan.timeout_seconds
        self.dropped = {}
        try:
            # Enough nodes online first: no labels query while the round waits for nodes.
            exchange.await_nodes(
                self.grid, plan.min_available, deadline=deadline, waited_from=started
            )
            nodes = exchange.await_nodes(
                self.selected,
                plan.min_available,
                deadline=deadline,
                waited_from=started,
                which=self.book.describe(),
            )
            self._track_clients(nodes, rnd)
            seed_everything(plan.seed, rnd)
            messages = strategy.configure_train(
                rnd, to_record(params), self._train_config(plan), self.selected
            )
            replies = self._within_lease(plan.lease, messages, rnd, deadline)
        except exchange.RoundOverrun as exc:
            raise FederationFailed(
                f"round {rnd} timed out after {plan.timeout_seconds:.0f} s: {exc}"
            ) from exc
        self._raise_client_errors(replies, rnd)
        if not replies:
            raise FederationFailed(
                f"round {rnd}: no training reply within the lease to aggregate "
                f"(dropped: {self._dropped_text()})"
            )
        arrays, train_metrics = self._aggregate(plan, strategy, rnd, replies)
        if arrays is None:
            raise FederationFailed(f"round {rnd}: no usable training replies to aggregate")
        new_params = check_params(from_record(arrays), params["weights"].shape[0])
        metrics = {**scalar_metrics(train_metrics), "clients": float(len(replies))}
        if evaluation is not None:
            metrics.update(self._central_metrics(new_params, evaluation))
        else:
            metrics.update(self._client_metrics(plan, strategy, rnd, new_params, deadline))
        metrics.update(dropped_metrics(self.dropped))
        self.metrics = metrics
        log(INFO, "round %d done in %.2f s: %s", rnd, time.monotonic() - started, metrics)
        dropped = {str(node): why for node, why in sorted(self.dropped.items())}
        self.report(ReportKind.ROUND_COMPLETED, rnd, metrics=metrics, dropped=dropped)
        return new_params

    def _within_lease(
        self, lease: Lease, messages: Iterable[Message], rnd: int, deadline: float
    ) -> list[Message]:
        """Send one task per node under the lease; the replies that count. Nodes whose reply
        does not count are remembered for the round's report (`self.dropped`)."""
        replies = exchange.exchange(self.grid, messages, deadline=deadline, ttl=lease.ttl_seconds)
        kept, dropped = exchange.judge(replies, lease)
        for node, why in sorted(dropped.items()):
            log(WARNING, "round %d: SuperNode %d dropped for the round: %s", rnd, node, why)
            add_event("client.dropped", {"client_id": str(node), "reason": why})
        self.dropped.update(dropped)
        return kept

    def _dropped_text(self) -> str:
        return ", ".join(f"{node} {why}" for node, why in sorted(self.dropped.items())) or "none"

    def _report_labels(self, learned: Mapping[int, Labels]) -> None:
        labels = {str(node): dict(found) for node, found in sorted(learned.items())}
        self.report(ReportKind.NODE_LABELS, self.last_round + 1, labels=labels)

    def _aggregate(
        self, plan: Plan, strategy: Strategy, rnd: int, replies: list[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        with self._span(AGGREGATE, rnd, clients=len(replies)):
            for reply in replies:
                add_event("client.reply", {"client_id": str(reply.metadata.src_node_id)})
            began = time.monotonic()
            seed_everything(plan.seed, rnd)
            result = strategy.aggregate_train(rnd, replies)
            self.aggregate_seconds = time.monotonic() - began
        return result

    def _train_config(self, plan: Plan) -> ConfigRecord:
        return ConfigRecord(
            {
                "local-epochs": plan.local_epochs,
                "batch-size": plan.batch_size,
                "learning-rate": plan.learning_rate,
            }
        )

    def _client_metrics(
        self, plan: Plan, strategy: Strategy, rnd: int, params: Params, deadline: float
    ) -> dict[str, float]:
        messages = strategy.configure_evaluate(
            rnd, to_record(params), ConfigRecord(), self.selected
        )
        try:
            replies = self._within_lease(plan.lease, messages, rnd, deadline)
        except exchange.RoundOverrun as exc:
            raise FederationFailed(f"round {rnd} evaluation timed out: {exc}") from exc
        self._raise_client_errors(replies, rnd)
        return scalar_metrics(strategy.aggregate_evaluate(rnd, replies))

    @staticmethod
    def _central_metrics(params: Params, evaluation: EvalSet) -> dict[str, float]:
        loss, accuracy = evaluate(params, *evaluation)
        return {"loss": loss, "accuracy": accuracy}

    def _raise_client_errors(self, replies: list[Message], rnd: int) -> None:
        lost = exchange.lost_nodes(replies)
        for node in lost:
            self.report(ReportKind.CLIENT_DROPPED, rnd, message=str(node))
        if lost:
            raise exchange.NodesLost(lost)
        errors = sorted({exchange.error_text(r) for r in replies if r.has_error()})
        if errors:
            raise FederationFailed(f"round {rnd}: a SuperNode failed: {'; '.join(errors)}")

    def _track_clients(self, online: list[int], rnd: int) -> None:
        for node in sorted(set(online) - self.clients):
            add_event("client.joined", {"client_id": str(node)})
            self.report(ReportKind.CLIENT_JOINED, rnd, message=str(node))
        for node in sorted(self.clients - set(online)):
            add_event("client.dropped", {"client_id": str(node)})
            self.report(ReportKind.CLIENT_DROPPED, rnd, message=str(node))
        self.clients = set(online)

    def _save_checkpoint(self, params: Params, rnd: int) -> None:
        with self._span(ARTIFACT_WRITE, rnd) as span:
            store = open_store(self.control.checkpoint_base)
            with tempfile.TemporaryDirectory(prefix="thunderline-ckpt-") as tmp:
                local = Path(tmp) / "checkpoint.npz"
                local.write_bytes(npz_bytes(params))
                ref = store.put(local, f"round-{rnd:04d}.npz")
            span.set_attributes({"artifact.uri": ref.uri, "artifact.size": ref.size})
        self.checkpoint = ArtifactInfo(ref.uri, ref.sha256, ref.size, "npz")
        timing = {AGGREGATE_SECONDS: self.aggregate_seconds}
        self.report(ReportKind.CHECKPOINT, rnd, artifact=self.checkpoint, metrics=timing)


app = ServerApp()


@app.main()
def main(grid: Grid, context: Context) -> None:
    control = parse_control(str(context.run_config[CONTROL_KEY]))
    federation_json = str(context.run_config[FEDERATION_KEY])
    sink = run_client(
        control.progress_url,
        federation=control.federation,
        generation=control.generation,
        attempt=control.attempt,
        run_id=context.run_id,
    )
    tracing = federation_tracing(federation_json)
    run = FederationRun(
        grid=grid, control=control, sink=sink, run_id=context.run_id, tracing=tracing
    )
    try:
        with tracing.joined(control.traceparent):
            run.run(federation_json)
    finally:
        keep_undelivered(sink, control.checkpoint_base, context.run_id)
        tracing.shutdown()  # the process ends with the run: export every span first
