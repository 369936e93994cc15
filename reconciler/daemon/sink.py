"""The daemon's side of the progress protocol: records what ServerApps report.

Mounted behind `/v1/progress` by the daemon's HTTP server (`runtime.progress.handle_progress`
checks the token first). The daemon stays the only writer of PostgreSQL: each report becomes a
round, artifact or client row with its event, or a phase transition, and the reply tells the
ServerApp whether to continue, pause or stop at its next round boundary. Each report the store
records as new also moves the `fl_*` federation metrics (a retried report counts once).
"""

from __future__ import annotations

import logging
from collections.abc import Callable

from reconciler.lifecycle import IllegalTransition
from reconciler.model import FederationKey, Phase, RecordedFederation
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind
from reconciler.store import ConflictError, NotFound, Store
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


def parse_federation(text: str) -> FederationKey:
    tenant, sep, name = text.partition("/")
    if not (sep and tenant and name):
        raise ValueError(f"not a tenant/name pair: {text!r}")
    return FederationKey(tenant, name)


class RecordingSink:
    """A `ProgressSink` that writes reports to the store; thread-safe (the store is)."""

    def __init__(
        self,
        store: Store,
        on_change: Callable[[], None] = lambda: None,
        metrics: Metrics | None = None,
    ) -> None:
        self.store = store
        self.on_change = on_change
        self.metrics = metrics or Metrics()

    def report(self, r: ProgressReport) -> Directive:
        try:
            key = parse_federation(r.federation)
            record = self.store.get(key)
        except (ValueError, NotFound):
            return Directive.STOP  # nobody asked for this run
        if (r.generation, r.attempt) != (
            record.run_generation or record.generation,
            record.attempt,
        ):
            return Directive.STOP  # a superseded run (replaced, resumed, recovered)
        try:
            record = self._record(key, record, r)
        except (ConflictError, IllegalTransition) as exc:
            # Lost a race with the cycle thread; the ServerApp retries or the next report heals it.
            log.info("progress report for %s not recorded: %s", key, exc)
        self.on_change()
        return _DIRECTIVES.get(record.phase, Directive.CONTINUE)

    def _record(
        self, key: FederationKey, record: RecordedFederation, r: ProgressReport
    ) -> RecordedFederation:
        store, generation, m = self.store, r.generation, self.metrics
        match r.kind:
            case ReportKind.ROUND_STARTED:
                if store.round_started(key, generation, r.round):
                    m.round_started(key, r.round)
                if record.phase is Phase.STARTING:
                    return self._move(record, Phase.RUNNING, r)
            case ReportKind.ROUND_COMPLETED:
                if store.round_completed(key, generation, r.round, r.metrics):
                    m.round_completed(key, r.round)
            case ReportKind.CHECKPOINT if r.artifact is not None:
                a = r.artifact
                if store.artifact_recorded(
                    key,
                    generation,
                    r.round,
                    uri=a.uri,
                    sha256=a.sha256,
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
