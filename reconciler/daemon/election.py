"""Who leads: the daemon's worker asks `Election.lead()` before each cycle.

A leader checks its lock (one round trip on the lock's kept connection) and stops acting at
once when it is gone. A standby tries the lock at a fixed cadence (`poll`, jittered), on its
own schedule: a request for a cycle wakes the worker but does not hurry the next attempt, so
webhooks, progress reports and the interval job cannot multiply lock attempts. While the
database cannot be reached, attempts follow the backoff delays instead (1, 2, 5, 10, 30,
60 s by default), reset after the first answer. The worker sleeps `due_in()` seconds (None:
until a request) between passes, so this is the only timer leadership needs.

Used by `reconciler.daemon.service.Daemon`; pure apart from the lock and the clock it is given.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import Literal, Protocol

from reconciler.settings import Backoff
from reconciler.store import StoreError

log = logging.getLogger(__name__)

Role = Literal["starting", "leader", "standby", "stopped"]


class Lock(Protocol):
    def try_acquire(self) -> bool: ...

    def is_held(self) -> bool: ...


class Election:
    """The role and when to try the lock next. Called from one thread (the worker)."""

    def __init__(
        self,
        *,
        poll: float,
        jitter: float,
        backoff: Backoff,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.role: Role = "starting"
        self._poll = poll
        self._jitter = jitter
        self._backoff = backoff
        self._clock = clock
        self._next_attempt = 0.0  # clock time of the next lock attempt; 0: at once
        self.failures = 0  # lock attempts in a row that could not reach the database
        self.attempts = 0  # lock attempts since start

    def lead(self, lock: Lock | None) -> bool:
        """True while this replica leads; tries the lock only when an attempt is due."""
        if lock is None:  # a single replica always leads
            self.role = "leader"
        elif self.role == "leader":
            if not lock.is_held():
                log.error("lost the leader lock: not acting until it is taken again")
                self.role = "standby"
                self._schedule(self._jittered(self._poll))
        elif self._clock() >= self._next_attempt:
            self._attempt(lock)
        return self.role == "leader"

    def due_in(self) -> float | None:
        """Seconds until the next lock attempt; None while leading (only a request wakes)."""
        if self.role in ("leader", "stopped"):
            return None
        return max(0.0, self._next_attempt - self._clock())

    def _attempt(self, lock: Lock) -> None:
        self.attempts += 1
        try:
            taken = lock.try_acquire()
        except StoreError as exc:
            self.failures += 1
            delay = self._backoff.delay(self.failures)
            log.warning("leader election: %s; next attempt in %.1f s", exc, delay)
            self.role = "standby"
            self._schedule(delay)
            return
        self.failures = 0
        self.role = "leader" if taken else "standby"
        self._schedule(self._jittered(self._poll))

    def _schedule(self, delay: float) -> None:
        self._next_attempt = self._clock() + delay

    def _jittered(self, seconds: float) -> float:
        return seconds * (1 + random.uniform(-self._jitter, self._jitter))
