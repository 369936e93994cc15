"""Notifications from the event outbox: one thread, one lane per service, while leading.

Each service is a `Lane` (lane.py: its own cursor, in order, retried with backoff, nothing
lost across a restart); a notification service's lane sends what its subscriptions ask for
(`SenderLane`), an `mlflow` service's exports to experiment tracking (trackinglane.py).
Lanes are independent: a service that is down holds back only itself. A service refusing a
request for good (a 4xx) is logged and counted, and the lane moves on. Only the leader
delivers, and raises the notices no transition writes (raising.py) before each pass: a
standby's lanes forget their cursors and read them again when it leads (every replica makes
a new service's cursor when it starts, so a service starts with the first daemon configured
with it). The reconcile cycle never waits for any of this; it only `wake()`s the thread
after each cycle (which also polls every `poll` seconds).

Commit statuses need the revision the federation's spec was loaded at, which the daemon's
report step knows (`RevisionOf`): `None` while it does not know yet (a lane waits, at most
`REVISION_WAIT` seconds), `""` when there is none (a newer generation replaced it, or its file
is gone): the status is skipped and counted.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Mapping, Sequence

from reconciler.model import FederationKey
from reconciler.notify.config import NotifyConfig, ServiceConfig, Subscription
from reconciler.notify.facts import FactsReader
from reconciler.notify.lane import Lane, Retry
from reconciler.notify.notices import INVALID, InvalidSpec
from reconciler.notify.raising import NoticeRaiser
from reconciler.notify.revisions import as_loaded
from reconciler.notify.services import SecretMissing, Sender, sender_for
from reconciler.notify.transport import Unreachable, post
from reconciler.notify.triggers import notice_for, trigger_of
from reconciler.settings import Backoff
from reconciler.store import Store
from reconciler.store.records import Event
from reconciler.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

RevisionOf = Callable[[FederationKey, int], str | None]
REVISION_WAIT = 600.0  # seconds a commit status waits for its revision before it is skipped


class SenderLane(Lane):
    """A notification service's lane: the notices its subscriptions ask for, sent."""

    def __init__(
        self,
        service: ServiceConfig,
        subscriptions: Sequence[Subscription],
        *,
        store: Store,
        facts: FactsReader,
        metrics: Metrics,
        revision_of: RevisionOf,
        backoff: Backoff,
    ) -> None:
        super().__init__(service.name, store=store, metrics=metrics, backoff=backoff)
        self.sender: Sender = sender_for(service)
        self.subscriptions = tuple(subscriptions)
        self.facts, self.revision_of = facts, revision_of
        self._waiting: tuple[int, float] | None = None  # (event id, since) awaiting a revision

    def handle(self, event: Event) -> bool:
        """Send `event` if this service wants it; True when something was sent (or refused
        for good). Raises `Retry` when it must be tried again."""
        if trigger_of(event) is None:
            return False
        notice = notice_for(self.subscriptions, event, self.facts(event))
        if notice is None:
            return False
        revision = self._revision(event) if self.sender.needs_revision else ""
        if self.sender.needs_revision and not revision:
            self.count("skipped")
            return True
        try:
            answer = post(self.sender.request(notice, revision))
        except (Unreachable, SecretMissing) as exc:
            self.count("retried")
            raise Retry(f"event {event.id}: {exc}") from None
        if self.sender.accepts(answer):
            self.count("delivered")
        elif answer.worth_retrying:
            self.count("retried")
            raise Retry(f"event {event.id}: HTTP {answer.status}")
        else:
            self.count("refused")
            log.warning("%s refused event %s for good: HTTP %s", self.name, event.id, answer.status)
        return True

    def _revision(self, event: Event) -> str:
        """The spec's revision; "" when there is none; `Retry` while it is not known yet."""
        if event.type == INVALID:  # no federation (or not this spec): the file's revision
            return str(event.payload.get("revision") or "")
        assert event.key is not None and event.generation is not None
        revision = self.revision_of(event.key, event.generation)
        if revision is not None:
            self._waiting = None
            return revision
        now = time.monotonic()
        if self._waiting is None or self._waiting[0] != event.id:
            self._waiting = (event.id, now)
        if now - self._waiting[1] >= REVISION_WAIT:
            log.warning("%s: no revision known for %s; status skipped", self.name, event.key)
            return ""
        raise Retry(f"event {event.id}: waiting for the revision of {event.key}")


class Notifier:
    """The delivery thread: every lane in turn, while this replica leads."""

    def __init__(
        self,
        config: NotifyConfig,
        store: Store,
        *,
        metrics: Metrics,
        is_leader: Callable[[], bool],
        revision_of: RevisionOf,
        backoff: Backoff,
        spec_commit: Callable[[str, str], str] = as_loaded,
        poll: float = 2.0,
    ) -> None:
        facts = FactsReader(store)
        self.lanes: list[Lane] = []
        for service in config.services:
            if service.kind == "mlflow":
                from reconciler.notify.trackinglane import MlflowLane  # imports mlflow

                self.lanes.append(
                    MlflowLane(
                        service,
                        store=store,
                        metrics=metrics,
                        revision_of=revision_of,
                        backoff=backoff,
                    )
                )
                continue
            self.lanes.append(
                SenderLane(
                    service,
                    config.subscriptions_of(service.name),
                    store=store,
                    facts=facts,
                    metrics=metrics,
                    revision_of=revision_of,
                    backoff=backoff,
                )
            )
        self.raiser = NoticeRaiser(config, store, spec_commit)
        self.is_leader, self.poll = is_leader, poll
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread = threading.Thread(target=self._run, name="thunderline-notify", daemon=True)

    def start(self) -> Notifier:
        """Make the services' cursors now (the store permitting; else the thread retries),
        so no event of the daemon's first cycle falls before them, then start delivering."""
        for lane in self.lanes:
            lane.register()
        self._thread.start()
        return self

    def found_invalid(self, specs: Mapping[FederationKey, InvalidSpec] | None) -> None:
        """The invalid specs a cycle found, for the `invalid` notices (raised once each);
        None: the cycle could not tell (no plan)."""
        self.raiser.found_invalid(None if specs is None else specs.values())

    def wake(self) -> None:
        """New events may be in the outbox (a cycle or a progress report just wrote some)."""
        self._wake.set()

    def stop(self, timeout: float = 15.0) -> None:
        """Stop after the attempt in flight (bounded by the transport's timeout)."""
        self._stopping.set()
        self._wake.set()
        if self._thread.is_alive():
            self._thread.join(timeout)

    def _run(self) -> None:
        while not self._stopping.is_set():
            self._pass()
            self._wake.wait(self._next_wait())
            self._wake.clear()

    def _pass(self) -> None:
        leading = self.is_leader()
        if leading:
            self.raiser.run()
        for lane in self.lanes:
            lane.register()
            if not leading:
                lane.forget()
                continue
            try:
                lane.run(self._keep_going)
            except Exception:  # the thread must outlive any one lane's bug
                log.exception("notifications to %s crashed", lane.name)

    def _keep_going(self) -> bool:
        return not self._stopping.is_set() and self.is_leader()

    def _next_wait(self) -> float:
        due = [lane.retry_at - time.monotonic() for lane in self.lanes if lane.failures]
        return max(0.05, min([self.poll, *due]))
