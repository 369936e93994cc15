"""Leader election: one holder; a standby takes over when the holder's connection dies, and the
old holder knows at once that it must stop acting."""

from __future__ import annotations

import threading
import time

import psycopg
import pytest

from reconciler.store import LeaderLock

pytestmark = pytest.mark.pg


def _kill_lock_holder(url: str) -> int:
    """pg_terminate_backend on whichever session holds an advisory lock in this database."""
    with psycopg.connect(url, autocommit=True) as admin:
        row = admin.execute(
            "SELECT l.pid, pg_terminate_backend(l.pid) FROM pg_locks l"
            " JOIN pg_database d ON d.oid = l.database"
            " WHERE l.locktype = 'advisory' AND l.granted AND d.datname = current_database()"
        ).fetchone()
    assert row is not None and row[1], "no advisory lock holder to kill"
    return int(row[0])


def test_only_one_daemon_holds_the_lock(pg_url: str) -> None:
    active, standby = LeaderLock(pg_url), LeaderLock(pg_url)
    try:
        assert active.try_acquire()
        assert active.try_acquire()  # asking again while holding it is harmless
        assert not standby.try_acquire()
        assert active.is_held() and not standby.is_held()
    finally:
        active.release()
        standby.release()


def test_standby_takes_over_when_the_holders_connection_is_killed(pg_url: str) -> None:
    active, standby = LeaderLock(pg_url), LeaderLock(pg_url)
    stop = threading.Event()
    took_over: list[float] = []
    try:
        assert active.try_acquire()
        waiter = threading.Thread(
            target=lambda: standby.acquire(stop, poll=0.1) and took_over.append(time.monotonic())
        )
        waiter.start()
        time.sleep(0.3)
        assert not took_over  # still standing by

        killed_at = time.monotonic()
        _kill_lock_holder(pg_url)
        waiter.join(timeout=10)

        assert not active.is_held()  # the old leader learns it on its next check
        assert took_over and took_over[0] - killed_at < 2.0
        assert standby.is_held()
    finally:
        stop.set()
        active.release()
        standby.release()


def test_release_hands_over_and_a_stopped_standby_gives_up(pg_url: str) -> None:
    active, standby = LeaderLock(pg_url), LeaderLock(pg_url)
    stop = threading.Event()
    stop.set()
    try:
        assert active.try_acquire()
        assert standby.acquire(stop, poll=0.1) is False

        active.release()

        assert not active.is_held()
        assert standby.try_acquire()
    finally:
        active.release()
        standby.release()


def test_locks_with_different_ids_do_not_exclude_each_other(pg_url: str) -> None:
    first, second = LeaderLock(pg_url, lock_id=1), LeaderLock(pg_url, lock_id=-2)
    try:
        assert first.try_acquire() and second.try_acquire()
        assert first.is_held() and second.is_held()
    finally:
        first.release()
        second.release()
