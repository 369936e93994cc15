"""The daemon's side of the progress protocol: checks what ServerApps report, records the rest.

Mounted behind `/v1/progress` by the daemon's HTTP server (`runtime.progress.handle_progress`
checks the token first: it is bound to the federation, generation, attempt and Flower run id).
The daemon stays the only writer of PostgreSQL: each report becomes a round, artifact or client
row with its event, or a phase transition, and the reply tells the ServerApp whether to
continue, pause or stop at its next round boundary. Each report the store records as new also
moves the `fl_*` federation metrics (a retried report counts once).

Before anything is written, a report is checked against what the daemon recorded
(`check_report`, pure, over the `Known` facts read for it): the current attempt and its run
id, a phase that is not finished, rounds in order between the attempt's start round and
`rounds.total`, completion only after the last round, and artifacts only under the attempt's
own checkpoint folder; a round's dropped nodes only for a lease reason, node labels only
the label keys, bounded. A checkpoint's sha256 and size are then read back from the artifact
store, and the final checkpoint again before the federation is recorded Completed. A refused
report raises `ReportRefused` (the HTTP answer), after one log line and one count of
`thunderline_progress_refused_total{reason}`; it changes nothing recorded. docs/security.md
lists every check with its answer.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass

from reconciler.apply import checkpoint_base
from reconciler.artifacts import ArtifactError
from reconciler.artifacts.verify import check_stored, inside
from reconciler.daemon.failures import ARTIFACTS, FailureLog
from reconciler.flowerapp.lease import LEASE_EXCEEDED, LEASE_TTL
from reconciler.lifecycle import IllegalTransition
from reconciler.model import FederationKey, Phase, RecordedFederation
from reconciler.runtime.base import RuntimeFailure
from reconciler.runtime.progress import (
    ArtifactInfo,
    Directive,
    ProgressReport,
    Refusal,
    ReportKind,
    ReportRefused,
)
from reconciler.selector import LABEL_KEYS, MAX_LABEL_CHARS
from reconciler.store import ArtifactRecord, ConflictError, NotFound, Store
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.names import AGGREGATE_SECONDS

log = logging.getLogger(__name__)

# Phase -> what a run of the current attempt is told at its next round boundary.
_DIRECTIVES = {
    Phase.PAUSED: Directive.PAUSE,
    Phase.COMPLETED: Directive.STOP,
    Phase.FAILED: Directive.STOP,
    Phase.STOPPED: Directive.STOP,
}
_SHA256 = re.compile(r"[0-9a-fA-F]{64}")
MAX_NODE_ID = 128  # characters of a client report's node id
MAX_NODES = 1000  # nodes one report may name (dropped for a round, or labelled)
DROP_REASONS = frozenset((LEASE_TTL, LEASE_EXCEEDED))
_ROUND_KINDS = (ReportKind.ROUND_STARTED, ReportKind.ROUND_COMPLETED, ReportKind.CHECKPOINT)
_CLIENT_KINDS = (ReportKind.CLIENT_JOINED, ReportKind.CLIENT_DROPPED, ReportKind.NODE_LABELS)


def parse_federation(text: str) -> FederationKey:
    tenant, sep, name = text.partition("/")
    if not (sep and tenant and name):
        raise ValueError(f"not a tenant/name pair: {text!r}")
    return FederationKey(tenant, name)


@dataclass(frozen=True)
class Known:
    """What the daemon recorded that a report is checked against."""

    phase: Phase
    current: tuple[int, int]  # (generation, attempt) of the run the record says is current
    launching: tuple[int, int]  # (generation, attempt) the next launch gets (not recorded yet)
    run_id: int | None  # the Flower run recorded for the report's (generation, attempt)
    total: int  # rounds.total of the recorded spec
    start_round: int  # the round the current attempt was launched to start at
    rounds: Mapping[int, str]  # recorded status of the rounds the check looks at
    base: str | None  # the attempt's checkpoint folder (None: cannot be computed)
    base_problem: str = ""  # why `base` is None


def _refusal(status: int, reason: str, detail: str, stop: bool = False) -> Refusal:
    return Refusal(status, reason, detail, Directive.STOP if stop else None)


def check_report(known: Known, r: ProgressReport) -> Refusal | None:
    """The first thing `r` contradicts in `known`, as a refusal; None when it may be recorded.

    Pure: every fact comes from `known` (the sink reads it for this report).
    """
    identity = (r.generation, r.attempt)
    if identity != known.current:
        if identity == known.launching:
            return _refusal(503, "not-recorded-yet", "this run is not recorded yet; retry")
        return _refusal(409, "superseded", f"attempt {r.attempt} is not the current one", True)
    if known.run_id is None:
        return _refusal(503, "not-recorded-yet", "this run is not recorded yet; retry")
    if known.run_id != r.run_id:
        return _refusal(409, "wrong-run", f"run {r.run_id} is not this attempt's run", True)
    if known.phase.terminal:
        return _refusal(409, "attempt-finished", f"the federation is {known.phase}", True)
    if r.round < 0:
        return _refusal(422, "bad-round", f"round {r.round} is negative")
    if r.round > known.total:
        return _refusal(422, "past-total", f"round {r.round} is past rounds.total", True)
    if r.kind in (*_ROUND_KINDS, *_CLIENT_KINDS) and r.round < known.start_round:
        return _refusal(409, "before-start", f"this attempt starts at {known.start_round}")
    return _kind_refusal(known, r)


def _kind_refusal(known: Known, r: ProgressReport) -> Refusal | None:
    rnd, rounds = r.round, known.rounds
    match r.kind:
        case ReportKind.ROUND_STARTED:
            in_order = rnd == known.start_round or rounds.get(rnd - 1) == "completed"
            if not (in_order or rnd in rounds):
                return _refusal(409, "out-of-order", f"round {rnd - 1} is not completed")
        case ReportKind.ROUND_COMPLETED:
            if rnd not in rounds:
                return _refusal(409, "out-of-order", f"round {rnd} was not started")
            return _dropped_refusal(r.dropped)
        case ReportKind.NODE_LABELS:
            return _labels_refusal(r.labels)
        case ReportKind.CHECKPOINT:
            if r.artifact is None:
                return _refusal(422, "malformed", "a checkpoint report needs its artifact")
            if rounds.get(rnd) != "completed":
                return _refusal(409, "out-of-order", f"round {rnd} is not completed")
            return _artifact_refusal(known, r.artifact)
        case ReportKind.CLIENT_JOINED | ReportKind.CLIENT_DROPPED:
            if not 0 < len(r.message) <= MAX_NODE_ID:
                return _refusal(422, "malformed", "a client report needs its node id")
        case ReportKind.COMPLETED:
            if rnd != known.total or rounds.get(known.total) != "completed":
                return _refusal(
                    409, "completed-early", f"round {known.total} is not recorded completed"
                )
            if r.artifact is not None:
                return _artifact_refusal(known, r.artifact)
    return None


def _node_id(text: str) -> bool:
    return 0 < len(text) <= MAX_NODE_ID and text.isdigit()


def _dropped_refusal(dropped: Mapping[str, str]) -> Refusal | None:
    if len(dropped) > MAX_NODES or not all(_node_id(node) for node in dropped):
        return _refusal(422, "malformed", "dropped names nodes by their Flower node ids")
    if not set(dropped.values()) <= DROP_REASONS:
        return _refusal(422, "malformed", f"a node is dropped for one of {sorted(DROP_REASONS)}")
    return None


def _labels_refusal(labels: Mapping[str, Mapping[str, str]]) -> Refusal | None:
    if not labels or len(labels) > MAX_NODES or not all(_node_id(node) for node in labels):
        return _refusal(422, "malformed", "node labels name nodes by their Flower node ids")
    for found in labels.values():
        if not set(found) <= set(LABEL_KEYS) or any(
            len(v) > MAX_LABEL_CHARS for v in found.values()
        ):
            return _refusal(422, "malformed", f"node labels are {', '.join(LABEL_KEYS)} only")
    return None


def _artifact_refusal(known: Known, artifact: ArtifactInfo) -> Refusal | None:
    if known.base is None:
        return _refusal(422, "foreign-artifact", f"no checkpoint folder: {known.base_problem}")
    if not inside(artifact.uri, known.base):
        return _refusal(403, "foreign-artifact", "the artifact is outside this attempt's folder")
    if not _SHA256.fullmatch(artifact.sha256) or artifact.size < 0:
        return _refusal(422, "malformed", "an artifact needs a sha256 and a size")
    return None


def _same(claimed: ArtifactInfo, recorded: ArtifactRecord) -> bool:
    return (claimed.uri, claimed.sha256.lower(), claimed.size) == (
        recorded.uri,
        recorded.sha256.lower(),
        recorded.size,
    )


class RecordingSink:
    """A `ProgressSink` that checks reports and writes them to the store; thread-safe."""

    def __init__(
        self,
        store: Store,
        on_change: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
        *,
        artifact_root: str | None,
        failures: FailureLog | None = None,
    ) -> None:
        self.store = store
        self.failures = failures  # artifact-store failures of read-backs are logged there
        self.on_change = on_change
        self.metrics = metrics or Metrics()
        self.artifact_root = artifact_root
        self._starts: dict[tuple[FederationKey, int, int], int] = {}  # launch facts never change
        self._lock = threading.Lock()

    # --- refusals -----------------------------------------------------------------------

    def refused(self, refusal: Refusal, r: ProgressReport | None = None) -> None:
        """Log one line and count one refusal (no token, no key: nothing secret is here)."""
        self.metrics.progress_refused.labels(refusal.reason).inc()
        about = (
            f" ({r.federation[:100]!r} generation {r.generation} attempt {r.attempt}"
            f" run {r.run_id}, {r.kind} round {r.round})"
            if r is not None
            else ""
        )
        level = logging.INFO if refusal.status >= 500 else logging.WARNING
        log.log(
            level,
            "progress report refused: %d %s: %s%s",
            refusal.status,
            refusal.reason,
            refusal.detail,
            about,
        )

    def _refuse(self, refusal: Refusal, r: ProgressReport, phase: Phase | None) -> ReportRefused:
        if refusal.directive is None and phase is not None:
            refusal = Refusal(
                refusal.status,
                refusal.reason,
                refusal.detail,
                _DIRECTIVES.get(phase, Directive.CONTINUE),
            )
        self.refused(refusal, r)
        return ReportRefused(refusal)

    # --- reports ------------------------------------------------------------------------

    def report(self, r: ProgressReport) -> Directive:
        try:
            key = parse_federation(r.federation)
            record = self.store.get(key)
        except (ValueError, NotFound):
            unknown = _refusal(409, "unknown-federation", "no such federation is recorded", True)
            raise self._refuse(unknown, r, None) from None
        known = self.known(key, record, r)
        refusal = check_report(known, r) or self._stored_refusal(key, known, r)
        if refusal is not None:
            raise self._refuse(refusal, r, record.phase)
        try:
            record = self._record(key, record, r)
        except (ConflictError, IllegalTransition) as exc:
            # Lost a race with the cycle thread; the ServerApp retries or the next report heals it.
            log.info("progress report for %s not recorded: %s", key, exc)
        self.on_change()
        return _DIRECTIVES.get(record.phase, Directive.CONTINUE)

    def known(self, key: FederationKey, record: RecordedFederation, r: ProgressReport) -> Known:
        """The facts `check_report` needs for `r`, read from the store."""
        generation = record.run_generation or record.generation
        current = (generation, record.attempt)
        run_id = (
            self.store.run_for(key, r.generation, r.attempt)
            if ((r.generation, r.attempt) == current)
            else None
        )
        numbers = sorted({max(r.round - 1, 1), max(r.round, 1), max(record.total_rounds, 1)})
        try:
            base: str | None = checkpoint_base(record.document, key, generation, self.artifact_root)
            problem = ""
        except (RuntimeFailure, ValueError) as exc:
            base, problem = None, str(exc)
        return Known(
            phase=record.phase,
            current=current,
            launching=(record.generation, record.attempt + 1),
            run_id=run_id,
            total=record.total_rounds,
            start_round=self._start_round(key, generation, record.attempt),
            rounds=self.store.round_statuses(key, generation, numbers),
            base=base,
            base_problem=problem,
        )

    def _start_round(self, key: FederationKey, generation: int, attempt: int) -> int:
        slot = (key, generation, attempt)
        with self._lock:
            known = self._starts.get(slot)
        if known is None:
            found = self.store.start_round_of(key, generation, attempt)
            if found is None:
                return 1  # no launch event (a record written by hand): not kept
            known = found
            with self._lock:
                if len(self._starts) > 10_000:
                    self._starts.clear()
                self._starts[slot] = known
        return known

    def _stored_refusal(
        self, key: FederationKey, known: Known, r: ProgressReport
    ) -> Refusal | None:
        """Read back the artifact a checkpoint or completion report stands on."""
        if known.base is None or r.kind not in (ReportKind.CHECKPOINT, ReportKind.COMPLETED):
            return None
        claimed = r.artifact
        if r.kind is ReportKind.CHECKPOINT:
            recorded = self.store.artifact_for(key, r.generation, r.round)
        else:
            recorded = self.store.artifact_for(key, r.generation, known.total)
        if recorded is not None and claimed is not None and not _same(claimed, recorded):
            return _refusal(409, "artifact-conflict", f"round {recorded.round} has another")
        if r.kind is ReportKind.CHECKPOINT and recorded is not None:
            return None  # a retry of what was read back when it was recorded
        target = recorded or claimed
        if target is None:
            return None  # an app without checkpoints completes on its rounds alone
        try:
            mismatch = check_stored(
                target.uri, sha256=target.sha256, size=target.size, base=known.base
            )
        except ArtifactError as exc:
            if self.failures is not None:
                self.failures.failed(ARTIFACTS, f"reading back {target.uri}: {exc}")
            return _refusal(503, "artifact-store-unavailable", f"cannot read it back now: {exc}")
        if self.failures is not None:
            self.failures.succeeded(ARTIFACTS)
        if mismatch is None:
            return None
        status = 403 if mismatch.reason == "outside" else 422
        reason = "foreign-artifact" if mismatch.reason == "outside" else "artifact-mismatch"
        return _refusal(status, reason, mismatch.detail)

    def _record(
        self, key: FederationKey, record: RecordedFederation, r: ProgressReport
    ) -> RecordedFederation:
        store, generation, m = self.store, r.generation, self.metrics
        match r.kind:
            case ReportKind.ROUND_STARTED if record.phase is Phase.PAUSED:
                pass  # told to pause in the answer, the run ends before doing this round
            case ReportKind.ROUND_STARTED:
                if store.round_started(key, generation, r.round):
                    m.round_started(key, r.round)
                if record.phase is Phase.STARTING:
                    return self._move(record, Phase.RUNNING, r)
            case ReportKind.ROUND_COMPLETED:
                if store.round_completed(key, generation, r.round, r.metrics, r.dropped):
                    m.round_completed(key, r.round)
                    m.clients_dropped_for_round(key, r.dropped)
            case ReportKind.NODE_LABELS:
                labels = {int(node): found for node, found in r.labels.items()}
                store.nodes_labelled(key.tenant, labels)
            case ReportKind.CHECKPOINT if r.artifact is not None:
                a = r.artifact
                if store.artifact_recorded(
                    key,
                    generation,
                    r.round,
                    uri=a.uri,
                    sha256=a.sha256.lower(),
                    size=a.size,
                    format=a.format,
                ):
                    m.artifact_written(key, r.metrics.get(AGGREGATE_SECONDS))
            case ReportKind.CLIENT_JOINED:
                if store.client_joined(key, generation, r.message):
                    m.client_joined(key)
            case ReportKind.CLIENT_DROPPED:
                store.client_dropped(key, generation, r.message)
            case ReportKind.COMPLETED if not record.phase.terminal:
                m.federation_ended(key)
                return self._move(record, Phase.COMPLETED, r)
            case ReportKind.FAILED if not record.phase.terminal:
                m.federation_ended(key)
                return self._move(record, Phase.FAILED, r)
        return record

    def _move(self, record: RecordedFederation, to: Phase, r: ProgressReport) -> RecordedFederation:
        # Recording the round itself bumped the row's version: transition from a fresh read.
        record = self.store.get(record.key)
        payload = (
            {"round": r.round, "metrics": dict(r.metrics)} if r.metrics else {"round": r.round}
        )
        return self.store.transition(
            record.key, to, expected_version=record.version, reason=r.message, payload=payload
        )
