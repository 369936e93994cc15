"""Leader election: one active daemon, holding a PostgreSQL session advisory lock.

The daemon's worker (`reconciler.daemon.election`) calls `try_acquire()` at a fixed cadence
while it stands by, and `is_held()` before every cycle while it leads: False means the lock's
connection is gone and the daemon must stop acting at once (another daemon may already lead).
The lock lives on a dedicated connection, never one from the pool, because it belongs to the
session: it is released when that session ends, however it ends.

One connection for the lock's whole life: a standby keeps the session its first attempt
opened and asks again on it (`pg_try_advisory_lock`, one round trip), and a leader checks on
it. A new session is opened only when the kept one died (the error is raised as
`StoreUnavailable`, and the caller waits its backoff before trying again), so a standby costs
the server one idle session, not one connection per attempt.

Failover timing (see docs/store.md): when the leader's process or connection dies cleanly
(crash, kill, `pg_terminate_backend`), the server drops the lock at once and a standby takes
over within one poll. When the leader's host vanishes without closing the socket, the server
notices through TCP keepalives set for this session (idle 5 s, then 3 probes 2 s apart: about
11 s); the old leader's own `is_held()` fails sooner (libpq `tcp_user_timeout` 5 s, client
keepalives about 9 s), so it stops acting before a standby can start.
"""

from __future__ import annotations

import logging
import threading
from typing import Any

import psycopg

from reconciler.store.errors import StoreUnavailable, translate

LEADER_LOCK_ID = 0x544C_0000_0000_0010
APPLICATION_NAME = "thunderline-reconciler-leader"

_log = logging.getLogger(__name__)

_SESSION_KWARGS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 5,
    "keepalives_interval": 2,
    "keepalives_count": 2,
    "tcp_user_timeout": 5000,
    # Server side: drop a silent peer's session (and so its lock) after ~11 s, not hours.
    "options": "-c tcp_keepalives_idle=5 -c tcp_keepalives_interval=2 -c tcp_keepalives_count=3",
}

_HOLDS_LOCK = (
    "SELECT EXISTS (SELECT 1 FROM pg_locks WHERE locktype = 'advisory' AND granted"
    " AND pid = pg_backend_pid() AND objsubid = 1 AND classid = %s::oid AND objid = %s::oid)"
)


class LeaderLock:
    """A session advisory lock on one kept connection of its own. Safe to share between
    threads (one call at a time), though the daemon only uses it from its worker."""

    def __init__(
        self, url: str, *, lock_id: int = LEADER_LOCK_ID, application_name: str = APPLICATION_NAME
    ) -> None:
        self._url = url
        self._lock_id = lock_id
        self._application_name = application_name
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None
        self._held = False
        self._mutex = threading.Lock()
        self.connects = 0  # attempts to open a session since construction

    def try_acquire(self) -> bool:
        """Take the lock if it is free; True if this process now holds it.

        Asks on the kept session; opens one only when there is none (or it died). Raises
        `StoreUnavailable` when the database cannot be reached or the kept session died.
        """
        if self.is_held():
            return True
        with self._mutex:
            conn = self._session()
            try:
                with translate(self._url):
                    row = conn.execute(
                        "SELECT pg_try_advisory_lock(%s)", (self._lock_id,)
                    ).fetchone()
            except StoreUnavailable:
                self._drop()
                raise
            self._held = bool(row and row[0])
            return self._held

    def acquire(self, stop_event: threading.Event, poll: float = 1.0) -> bool:
        """Wait as a standby until the lock is ours (True) or `stop_event` is set (False)."""
        while not stop_event.is_set():
            try:
                if self.try_acquire():
                    return True
            except StoreUnavailable as exc:
                _log.warning("standby cannot reach the database, retrying: %s", exc)
            stop_event.wait(poll)
        return False

    def is_held(self) -> bool:
        """True while the lock's session is alive and holds it: one round trip on the kept
        connection, none at all when this process does not hold the lock."""
        with self._mutex:
            conn = self._conn
            if not self._held or conn is None or conn.closed:
                return False
            try:
                row = conn.execute(_HOLDS_LOCK, _halves(self._lock_id)).fetchone()
            except psycopg.Error as exc:
                _log.error("leader lock connection lost: %s", type(exc).__name__)
                self._drop()
                return False
            self._held = bool(row and row[0])
            return self._held

    def release(self) -> None:
        """Give the lock up by ending its session (a standby's idle session ends too)."""
        with self._mutex:
            self._drop()

    def _session(self) -> psycopg.Connection[tuple[Any, ...]]:
        """The kept connection, or a new one when there is none; called under the mutex."""
        conn = self._conn
        if conn is not None and not conn.closed and not conn.broken:
            return conn
        self._drop()
        self.connects += 1
        with translate(self._url):
            conn = psycopg.connect(
                self._url, application_name=self._application_name, **_SESSION_KWARGS
            )
        self._conn = conn
        return conn

    def _drop(self) -> None:
        conn, self._conn, self._held = self._conn, None, False
        if conn is not None:
            conn.close()


def _halves(lock_id: int) -> tuple[int, int]:
    """The two unsigned 32-bit halves pg_locks shows for a bigint advisory lock key."""
    unsigned = lock_id & 0xFFFF_FFFF_FFFF_FFFF
    return unsigned >> 32, unsigned & 0xFFFF_FFFF
