"""The daemon: triggers ask for cycles, one worker runs them, while this replica leads.

Triggers (the APScheduler interval job, the webhook, the file watcher, progress reports) only
call `request_cycle`; a single worker thread runs `Reconciler.cycle()`, so two cycles never
overlap and requests that arrive during a cycle coalesce into one more. Before every cycle
the worker asks the election (`election.py`): a standby waits, and a leader whose lock
connection died stops acting at once. A standby's worker also wakes on its own when the next
lock attempt is due, so leadership needs no timer of its own. `stop()` (SIGTERM) lets the
running cycle finish, then releases the lock and shuts every thread down.
"""

from __future__ import annotations

import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from pathlib import Path
from typing import Any

from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.interval import IntervalTrigger

from reconciler.apply import Applier, LaunchContext
from reconciler.console import Access, Console
from reconciler.daemon import memory
from reconciler.daemon.cycle import CycleOutcome, Reconciler
from reconciler.daemon.desired import denied_by_tenant
from reconciler.daemon.election import Election, Role
from reconciler.daemon.eventlog import LifecycleLog
from reconciler.daemon.failures import FailureLog, StepError
from reconciler.daemon.http import Endpoints, HttpServer
from reconciler.daemon.reporting import StatusReporter
from reconciler.daemon.sink import RecordingSink
from reconciler.daemon.undelivered import UndeliveredReports
from reconciler.daemon.unrecorded import find_unrecorded
from reconciler.model import FederationKey, Phase
from reconciler.notify import Notifier, revision_in
from reconciler.notify.revisions import SpecCommits
from reconciler.plan import Plan, plan
from reconciler.report import StatusWriter
from reconciler.runtime.apps import log_follow_mode
from reconciler.runtime.base import Runtime
from reconciler.runtime.logprogress import LogFollower
from reconciler.settings import Settings
from reconciler.source import GitSource, Watcher, watch_repository
from reconciler.store import LeaderLock, Store, StoreError
from reconciler.store.endpoints import HTTP, SUPERLINK
from reconciler.store.findings import StepErrorRow
from reconciler.telemetry.metrics import Metrics
from reconciler.telemetry.names import DAEMON_SERVICE
from reconciler.telemetry.tracing import Tracing

log = logging.getLogger(__name__)


@dataclass
class Parts:
    """The adapters a daemon runs on; `reconciler.daemon.assemble` builds the real ones."""

    store: Store
    runtime: Runtime
    source: GitSource
    writer: StatusWriter | None
    leader: LeaderLock | None  # None: a single replica that always leads
    progress_secret: bytes  # the progress key; the SuperLink side holds the same one
    webhook_secret: bytes | None
    api_token: bytes | None = None  # POST /api/v1/reconcile's token; None: that route is off
    superlink: str | None = None  # the Control API address, recorded for `reconciler logs`


class Daemon:
    def __init__(self, settings: Settings, parts: Parts) -> None:
        self.settings = settings
        self.parts = parts
        self.metrics = Metrics()
        self.election = Election(
            poll=settings.leader.poll, jitter=settings.leader.jitter, backoff=settings.backoff
        )
        self.last_outcome: CycleOutcome | None = None
        self._wake = threading.Event()
        self._finished = threading.Condition()
        self.cycles = 0  # cycles finished since start
        self._started = 0  # cycles started since start
        self._stopping = threading.Event()
        self._worker = threading.Thread(target=self._work, name="thunderline-cycle", daemon=True)
        self._watcher: Watcher | None = None
        self.tracing = Tracing.from_env(DAEMON_SERVICE)
        # Failing steps: logged rate-limited, counted every time, kept for /readyz and status.
        self.failures = FailureLog(self.metrics.reconcile_errors, on_change=self._save_error)
        self.lifecycle_log = LifecycleLog(parts.store)  # one INFO line per lifecycle event
        self.sink = RecordingSink(
            parts.store,
            on_change=lambda: self.request_cycle("progress"),
            metrics=self.metrics,
            artifact_root=settings.artifacts.root,
            failures=self.failures,
        )
        http = settings.http
        self.http = HttpServer(http.host, http.port, self._endpoints(), http.limits)
        self.spec_commits = SpecCommits(parts.source.last_change)  # reports', statuses' commit
        self.reporter = StatusReporter(
            parts.store,
            parts.writer,
            settings.plan.targets,
            self.spec_commits.find,
            interval=settings.report.interval,
        )
        self.reconciler = Reconciler(
            source=parts.source,
            store=parts.store,
            runtime=parts.runtime,
            applier=Applier(parts.store, parts.runtime, self._launch_context(), self.tracing),
            options=settings.plan,
            report=self._after_cycle,
            tracing=self.tracing,
            log_follower=LogFollower(
                parts.runtime,
                self.sink,
                partial(log_follow_mode, repo_root=Path(parts.source.workdir)),
            ),
            undelivered=UndeliveredReports(
                self.sink, parts.progress_secret, artifact_root=settings.artifacts.root
            ),
            prune_confirm=settings.source.prune_confirm,
        )
        self.scheduler = BackgroundScheduler(daemon=True)
        self.notifier = self._notifier()  # None without a notifications file
        self._phases_counted: Mapping[Any, Any] | None = None  # statuses last counted by phase

    def _endpoints(self) -> Endpoints:
        return Endpoints(
            metrics=self.metrics,
            readiness=self.readiness,
            request_cycle=self.request_cycle,
            sink=self.sink,
            progress_secret=self.parts.progress_secret,
            webhook_secret=self.parts.webhook_secret,
            progress_refused=self.sink.refused,
            api_token=self.parts.api_token,
            console=Console(
                self.parts.store,
                Access.for_host(
                    self.settings.http.host,
                    self.settings.http.console_token,
                    self.settings.http.console_trusted_proxies,
                    self.settings.http.console_identity_header,
                ),
                statuses=lambda: self.reporter.statuses,
                plan=self._plan_preview,
                repo_url=self.settings.source.repo,
                logs=lambda run_id, target: self.parts.runtime.logs(run_id, target=target),
            ),
        )

    def _plan_preview(self) -> Plan | None:
        """What the next cycle would plan at the revision loaded last, for the console: the
        planner over the daemon's desired state and the recorded state now (read apart from
        the cycle's own incremental read). Without run observations, which only a cycle
        asks Flower for: run-status decisions (a run that died, one that finished) show once
        a cycle has seen them."""
        outcome = self.last_outcome
        if outcome is None or outcome.desired is None:
            return None
        recorded = self.parts.store.recorded_snapshot()
        return plan(
            outcome.desired,
            recorded,
            None,
            self.settings.plan,
            nodes_online=outcome.nodes_online,
            node_labels=outcome.node_labels,
        )

    def _notifier(self) -> Notifier | None:
        """The notification delivery thread (reconciler/notify): delivers while leading."""
        config = self.settings.notifications
        if config is None:
            return None
        return Notifier(
            config,
            self.parts.store,
            metrics=self.metrics,
            is_leader=lambda: self.role == "leader",
            revision_of=self._spec_revision,
            backoff=self.settings.backoff,
            spec_commit=self.spec_commits,
        )

    def _spec_revision(self, key: FederationKey, generation: int) -> str | None:
        """Where a commit status goes: known once a report has been built since start."""
        statuses = self.reporter.statuses if self.last_outcome is not None else None
        revision = revision_in(statuses, key, generation)
        return (
            self.spec_commits(statuses[key].path, revision) if statuses and revision else revision
        )

    def _launch_context(self) -> LaunchContext:
        public = self.settings.http.public_url or self.http.url
        return LaunchContext(
            progress_url=f"{public.rstrip('/')}/v1/progress",
            repo_root=self.parts.source.workdir,
            artifact_root=self.settings.artifacts.root,
            policy=self.settings.plan.policy,
            targets=self.settings.plan.targets,
        )

    # --- lifecycle ----------------------------------------------------------------------

    def start(self) -> Daemon:
        self.http.start()
        self._record_endpoints()
        src = self.settings.source
        trigger = IntervalTrigger(seconds=src.interval, jitter=src.interval * src.jitter)
        self.scheduler.add_job(self.request_cycle, trigger, args=["interval"], id="poll")
        self.scheduler.start()
        if src.watch is not None:
            self._watcher = watch_repository(src.watch, lambda: self.request_cycle("commit"))
        self.lifecycle_log.start()
        if self.notifier is not None:
            self.notifier.start()
        self._worker.start()
        self.request_cycle("start")
        return self

    def _record_endpoints(self) -> None:
        """Where `reconciler reconcile` and `reconciler logs` find this daemon; a store that
        is down now only costs the CLI that hint (cycles report the store's state)."""
        found = {HTTP: self.http.url, SUPERLINK: self.parts.superlink}
        try:
            for name, address in found.items():
                if address:
                    self.parts.store.record_endpoint(name, address)
        except StoreError as exc:
            log.warning("could not record the daemon's addresses for the CLI: %s", exc)

    def stop(self) -> None:
        """Finish the running cycle, release the lock, stop every thread."""
        self._stopping.set()
        self._wake.set()
        self._worker.join(timeout=120)
        self.reporter.close()  # what the status interval held back, while still leading
        self.scheduler.shutdown(wait=False)
        if self._watcher is not None:
            self._watcher.stop()
        self.http.close()
        if self.notifier is not None:
            self.notifier.stop()  # before the lock goes: only a leader delivers
        if self.parts.leader is not None:
            self.parts.leader.release()
        self.tracing.shutdown()
        self.role = "stopped"

    @property
    def role(self) -> Role:
        return self.election.role

    @role.setter
    def role(self, role: Role) -> None:
        self.election.role = role

    def request_cycle(self, why: str = "") -> None:
        log.debug("cycle requested: %s", why)
        self._wake.set()

    def cycle_now(self, timeout: float = 60.0) -> bool:
        """Request a cycle and wait until one that started after the request has finished."""
        with self._finished:
            target = self._started + 1  # the next cycle to start: the running one predates us
            self.request_cycle("requested and awaited")
            return self._finished.wait_for(lambda: self.cycles >= target, timeout)

    # --- the worker ---------------------------------------------------------------------

    def _work(self) -> None:
        while not self._stopping.is_set():
            self._wake.wait(self.election.due_in())  # a standby also wakes for its lock poll
            self._wake.clear()
            if self._stopping.is_set() or not self._lead():
                continue
            with self._finished:
                self._started += 1
            try:
                self.reconciler.cycle()
            except Exception:  # the worker must outlive any one cycle
                log.exception("reconcile cycle crashed")
                self.metrics.reconcile_total.labels("error").inc()
            memory.SHARED.after_cycle()
            with self._finished:
                self.cycles += 1
                self._finished.notify_all()

    def _lead(self) -> bool:
        """True while this replica holds (or just took) the leader lock."""
        leading = self.election.lead(self.parts.leader)
        self.metrics.leader.set(1 if leading else 0)
        return leading

    def _after_cycle(self, outcome: CycleOutcome) -> None:
        self.last_outcome = outcome
        self.reporter(outcome)
        m = self.metrics
        m.reconcile_total.labels("success" if outcome.ok else "error").inc()
        m.reconcile_duration.observe(outcome.duration)
        if outcome.fetch_duration is not None:
            m.git_fetch_duration.observe(outcome.fetch_duration)
        if outcome.source_error:
            m.git_fetch_failures.inc()
        if outcome.desired is not None:
            m.set_denied(denied_by_tenant(outcome.desired))
        self.failures.after_cycle(outcome)  # counts reconcile_errors{step}, logs, keeps
        self.lifecycle_log.drain(self._total_rounds)
        if self.notifier is not None:  # invalid specs, recorded or not, for `invalid` notices
            self.notifier.found_invalid(find_unrecorded(outcome.plan, {}, outcome.spec_revisions))
            self.notifier.wake()  # the cycle's events (and its statuses' revisions) are in
        for result in outcome.results:
            m.actions.labels(str(result.action.kind), "ok" if result.ok else "error").inc()
        if outcome.plan is not None:
            m.prune_blocked.set(outcome.plan.prune_blocked)
        statuses = self.reporter.statuses
        if statuses is not self._phases_counted:  # a quiet cycle keeps the very same dict
            m.set_phases(Counter(s.phase for s in statuses.values() if isinstance(s.phase, Phase)))
            self._phases_counted = statuses

    def _total_rounds(self, key: FederationKey) -> int:
        status = self.reporter.statuses.get(key)
        return status.total_rounds if status is not None else 0

    def _save_error(self, error: StepError) -> None:
        """A step's last error, for `reconciler status` (another process); when the
        database itself is down this fails, and /readyz and the log still say so."""
        row = StepErrorRow(
            error.step, error.message, error.since, error.last_seen, error.count, error.failing
        )
        self.parts.store.save_step_error(row)

    # --- probes -------------------------------------------------------------------------

    def readiness(self) -> Mapping[str, Any]:
        outcome = self.last_outcome
        fetched = self.reconciler.last_fetch_ok
        fresh_within = 3 * self.settings.source.interval + 30
        checks: dict[str, Any] = {
            "role": self.role,
            "database": not (outcome and outcome.store_error),
            "sourceFetched": fetched is not None and time.monotonic() - fetched < fresh_within,
        }
        if self.role == "standby":
            checks["sourceFetched"] = True  # a standby does not fetch; it is ready to take over
        checks["ready"] = self.role in ("leader", "standby") and all(
            checks[k] for k in ("database", "sourceFetched")
        )
        checks["lastErrors"] = self.failures.last_errors()  # step -> its last error
        return checks
