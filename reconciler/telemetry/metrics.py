"""Prometheus metrics: the `fl_*` federation metrics of DESIGN.md and controller metrics.

One `Metrics` object per daemon, on its own registry (tests make as many as they like).
Label values are tenant and federation names only: never anything from a secret field.
Controller metrics follow controller-runtime's shape (reconcile total by result, duration).

Who moves what: the daemon's cycle (`Daemon._after_cycle`: reconcile, errors, actions, phases,
git fetch), its HTTP server (webhook requests), and its progress sink, through the
`round_started` .. `client_joined` methods below, for the `fl_*` federation metrics. The sink
calls them only for reports the store recorded as new, so a retried report counts once.
Round duration is timed here, from a round's start report to its completion report (both
reach the same daemon; a round whose start this process did not see is not timed).
Aggregate duration is measured by the ServerApp around aggregation and sent as the
`aggregate_seconds` metric of its checkpoint report (`names.AGGREGATE_SECONDS`).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest

from reconciler.model import FederationKey, Phase

FED = ("tenant", "federation")
# Rounds on this machine take seconds to minutes; aggregation milliseconds to seconds.
ROUND_BUCKETS = (1, 2.5, 5, 10, 20, 30, 60, 120, 300, 600, 1800)
FAST_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)


class Metrics:
    def __init__(self, registry: CollectorRegistry | None = None) -> None:
        r = self.registry = registry or CollectorRegistry()
        self.clients_joined = Counter(
            "fl_clients_joined_total", "Clients that joined", FED, registry=r
        )
        self.clients_dropped = Counter(
            "fl_clients_dropped_total", "Clients dropped for a round, by reason",
            (*FED, "reason"), registry=r,
        )  # fmt: skip
        self.rounds_started = Counter("fl_rounds_started_total", "Rounds started", FED, registry=r)
        self.rounds_completed = Counter(
            "fl_rounds_completed_total", "Rounds completed", FED, registry=r
        )
        self.aggregates = Counter("fl_aggregates_total", "Aggregates recorded", FED, registry=r)
        self.artifacts_written = Counter(
            "fl_artifacts_written_total", "Checkpoints written", FED, registry=r
        )
        self.aggregate_duration = Histogram(
            "fl_aggregate_duration_seconds", "Aggregation time", ("tenant",), registry=r,
            buckets=FAST_BUCKETS,
        )  # fmt: skip
        self.round_duration = Histogram(
            "fl_round_duration_seconds", "Round wall time", ("tenant",), registry=r,
            buckets=ROUND_BUCKETS,
        )  # fmt: skip
        self.reconcile_total = Counter(
            "thunderline_reconcile_total", "Reconcile cycles by result", ("result",), registry=r
        )
        self.reconcile_duration = Histogram(
            "thunderline_reconcile_duration_seconds", "Reconcile cycle time", registry=r,
            buckets=FAST_BUCKETS,
        )  # fmt: skip
        self.reconcile_errors = Counter(
            "thunderline_reconcile_errors_total", "Errors by step", ("step",), registry=r
        )
        self.actions = Counter(
            "thunderline_actions_total", "Actions applied", ("action", "result"), registry=r
        )
        self.federations = Gauge(
            "thunderline_federations", "Federations by phase", ("phase",), registry=r
        )
        self.git_fetch_duration = Histogram(
            "thunderline_git_fetch_duration_seconds", "git fetch time", registry=r,
            buckets=FAST_BUCKETS,
        )  # fmt: skip
        self.git_fetch_failures = Counter(
            "thunderline_git_fetch_failures_total", "Failed fetches", registry=r
        )
        self.webhook_requests = Counter(
            "thunderline_webhook_requests_total", "Webhook requests", ("code",), registry=r
        )
        self.webhook_duplicates = Counter(
            "thunderline_webhook_duplicates_total", "Webhook deliveries seen before", registry=r
        )
        self.prune_blocked = Gauge(
            "thunderline_prune_blocked",
            "Federations a mass deletion would stop, held until a person confirms",
            registry=r,
        )
        self.progress_refused = Counter(
            "thunderline_progress_refused_total",
            "Progress reports refused, by reason (docs/security.md)",
            ("reason",),
            registry=r,
        )
        self.leader = Gauge("thunderline_leader", "1 while this replica leads", registry=r)
        self.specs_denied = Gauge(
            "thunderline_specs_denied", "Spec files the tenant policy denies", ("tenant",),
            registry=r,
        )  # fmt: skip
        # Notifications (reconciler/notify): one count per attempt's outcome, by service name
        # (from the notifications file): delivered, retried (will be sent again), refused (the
        # service said no for good), skipped (a commit status with no commit to put it on).
        self.notifications = Counter(
            "thunderline_notifications_total", "Notification attempts by service and outcome",
            ("service", "outcome"), registry=r,
        )  # fmt: skip
        self._round_began: dict[FederationKey, tuple[int, float]] = {}  # one open round each
        self._lock = threading.Lock()  # progress reports arrive on HTTP server threads
        self._denied_tenants: set[tuple[str]] = set()

    def set_denied(self, counts: Mapping[str, int]) -> None:
        """Denied spec files per tenant; a tenant no longer denied anything reads 0."""
        seen = {labels[0] for labels in self._denied_tenants}
        for tenant in seen | set(counts):
            self.specs_denied.labels(tenant).set(counts.get(tenant, 0))
        self._denied_tenants = {(t,) for t in counts}

    def set_phases(self, counts: dict[Phase, int]) -> None:
        for phase in Phase:
            self.federations.labels(phase.value).set(counts.get(phase, 0))

    # --- the fl_* federation metrics, fed by the daemon's progress sink ------------------

    def round_started(self, key: FederationKey, rnd: int) -> None:
        self.rounds_started.labels(key.tenant, key.name).inc()
        with self._lock:
            self._round_began[key] = (rnd, time.monotonic())

    def round_completed(self, key: FederationKey, rnd: int) -> None:
        """A round's aggregate is done: counts the round and the aggregate, times the round."""
        self.rounds_completed.labels(key.tenant, key.name).inc()
        self.aggregates.labels(key.tenant, key.name).inc()
        with self._lock:
            began = self._round_began.pop(key, None)
        if began is not None and began[0] == rnd:
            self.round_duration.labels(key.tenant).observe(time.monotonic() - began[1])

    def artifact_written(self, key: FederationKey, aggregate_seconds: float | None) -> None:
        self.artifacts_written.labels(key.tenant, key.name).inc()
        if aggregate_seconds is not None and aggregate_seconds >= 0:
            self.aggregate_duration.labels(key.tenant).observe(aggregate_seconds)

    def client_joined(self, key: FederationKey) -> None:
        self.clients_joined.labels(key.tenant, key.name).inc()

    def clients_dropped_for_round(self, key: FederationKey, reasons: Mapping[str, str]) -> None:
        """Nodes whose reply did not count in a round (node id -> lease reason)."""
        for reason in reasons.values():
            self.clients_dropped.labels(key.tenant, key.name, reason).inc()

    def federation_ended(self, key: FederationKey) -> None:
        """Forget a federation's open round (it will not complete in this run)."""
        with self._lock:
            self._round_began.pop(key, None)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
