"""A service's way through the event outbox: the cursor, the order, the retries. I/O.

`Lane` reads the outbox in id order from the service's cursor in PostgreSQL
(`store.cursors`) and hands each event to `handle` (the kind of service fills it in): an
event is handled, then the cursor moves past it, so a daemon killed in between handles it
again (at least once) and nothing is lost across a restart. Nothing overtakes an event that
raised `Retry`: the lane stops there and tries again after `Backoff.delay(failures)` (reset
by a success), which keeps every federation's events in order. The delivery thread
(`reconciler.notify.delivery.Notifier`) runs the lanes while its replica leads.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable

from reconciler.settings import Backoff
from reconciler.store import Store, StoreError
from reconciler.store.records import Event
from reconciler.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

BATCH = 100  # events read per query


class Retry(Exception):
    """This event could not be handled now: the lane stops here and tries again later."""


class Lane:
    """One service's way through the outbox."""

    def __init__(self, name: str, *, store: Store, metrics: Metrics, backoff: Backoff) -> None:
        self.name = name
        self.store, self.metrics, self.backoff = store, metrics, backoff
        self.after: int | None = None  # the last event done with; None: read from the store
        self.failures = 0  # attempts failed in a row
        self.retry_at = 0.0  # time.monotonic() before which the lane does not try
        self._registered = False  # the service has a cursor in the store

    def register(self) -> None:
        """Make sure the service has a cursor, leading or not: a service configured on a
        standby first still hears of everything from the moment a daemon started with it."""
        if self._registered:
            return
        try:
            self.store.delivery_cursor(self.name)
            self._registered = True
        except StoreError as exc:
            log.debug("notifications to %s: cursor not made yet: %s", self.name, exc)

    def forget(self) -> None:
        """No longer leading: the next leader may move the cursor; read it again later."""
        self.after, self.failures, self.retry_at = None, 0, 0.0

    def run(self, keep_going: Callable[[], bool]) -> None:
        """Deliver what is due until caught up, failed, or `keep_going()` says stop."""
        if time.monotonic() < self.retry_at:
            return
        try:
            self._drain(keep_going)
        except (Retry, StoreError) as exc:
            self.failures += 1
            delay = self.backoff.delay(self.failures)
            self.retry_at = time.monotonic() + delay
            log.warning("notifications to %s: %s; retrying in %.1f s", self.name, exc, delay)
        else:
            self.failures = 0

    def _drain(self, keep_going: Callable[[], bool]) -> None:
        if self.after is None:
            self.after = self.store.delivery_cursor(self.name)
        done = self.after
        try:
            while keep_going():
                events = self.store.events(after_id=self.after, limit=BATCH)
                for event in events:
                    if not keep_going():
                        return
                    if self.handle(event):  # something was sent: record that at once
                        self.store.advance_delivery_cursor(self.name, event.id)
                        done = event.id
                    self.after = event.id
                if len(events) < BATCH:
                    return
        finally:
            if self.after is not None and self.after != done:  # passed events not for us
                self.store.advance_delivery_cursor(self.name, self.after)

    def handle(self, event: Event) -> bool:
        """Act on `event`; True when something was done (sent, refused for good, skipped),
        False when the event is not for this service. Raises `Retry` to try it later."""
        raise NotImplementedError

    def count(self, outcome: str) -> None:
        self.metrics.notifications.labels(self.name, outcome).inc()
