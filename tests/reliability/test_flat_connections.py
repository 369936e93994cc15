"""A standby and a leader in a database outage keep their connections and threads flat.

Real PostgreSQL, the in-memory Flower runtime, requests for cycles every 0.1-0.2 s and a lock
poll of 0.2 s, so that a timer started per pass (the old bug: one more 1 s poll chain per
pass, never merged) would show within seconds. Connections are counted three ways: sessions the server
started in the test's database (`pg_stat_database.sessions`, which sees even sessions that
lived a millisecond), the lock's own count of connection attempts, and the lock's session in
`pg_stat_activity` (same pid, same backend_start throughout). The outage refuses new
connections to this test's database only (`ALLOW_CONNECTIONS false`, its sessions
terminated), so other tests on the shared server are not disturbed.

A leader under load: threads using the store at once, as the cycle, progress reports and the
notifier do. A pool that grew on demand opened connections whenever they first met, minutes
after a start under load (the chaos run's "12 a minute" in steady windows); the fixed pool
opens them all at start, and after its sessions are killed (what a server restart does to
clients) replaces each once, then opens none.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psycopg
import pytest

from reconciler.daemon.service import Daemon
from reconciler.settings import Backoff, LeaderSettings
from reconciler.store import LeaderLock, Store, StoreError
from reconciler.store.db import CONNECT_KWARGS, POOL_SIZE
from tests.conftest import ADMIN_URL
from tests.daemon.conftest import World, make_world

pytestmark = pytest.mark.pg

WINDOW = 4.0  # seconds per counting window
WINDOWS = 3
POLL = LeaderSettings(poll=0.2, jitter=0.2)


@dataclass
class Window:
    sessions: int  # sessions the server started in the database during the window
    connects: int  # the daemon's lock connection attempts during the window
    attempts: int  # the daemon's lock attempts during the window
    threads: int  # threads alive at the window's end


def wait_until(check: Callable[[], bool], timeout: float) -> float:
    began = time.monotonic()
    while not check():
        assert time.monotonic() - began < timeout, "condition not reached in time"
        time.sleep(0.05)
    return time.monotonic() - began


@contextmanager
def admin() -> Iterator[psycopg.Connection[tuple[Any, ...]]]:
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as conn:
        yield conn


def server_sessions(conn: psycopg.Connection[tuple[Any, ...]], db: str) -> int:
    row = conn.execute("SELECT sessions FROM pg_stat_database WHERE datname = %s", (db,)).fetchone()
    return int(row[0]) if row else 0


def lock_sessions(conn: psycopg.Connection[tuple[Any, ...]], app: str) -> list[tuple[Any, ...]]:
    return conn.execute(
        "SELECT pid, backend_start FROM pg_stat_activity WHERE application_name = %s", (app,)
    ).fetchall()


def sessions_named(conn: psycopg.Connection[tuple[Any, ...]], db: str, app: str) -> int:
    row = conn.execute(
        "SELECT count(*) FROM pg_stat_activity WHERE datname = %s AND application_name = %s",
        (db, app),
    ).fetchone()
    return int(row[0]) if row else 0


def count_windows(
    conn: psycopg.Connection[tuple[Any, ...]],
    db: str,
    daemon: Daemon,
    lock: LeaderLock,
    windows: int = WINDOWS,
) -> list[Window]:
    """`windows` windows of WINDOW seconds: what started in each, threads at each end."""

    def counts() -> tuple[int, int, int]:
        return server_sessions(conn, db), lock.connects, daemon.election.attempts

    found, last = [], counts()
    for _ in range(windows):
        time.sleep(WINDOW)
        now = counts()
        found.append(
            Window(*(n - b for n, b in zip(now, last, strict=True)), threading.active_count())
        )
        last = now
    print(f"\n{daemon.role}: {found}")
    return found


def idle(daemon: Daemon) -> bool:
    """No cycle running or asked for, these 0.3 s."""
    before = daemon.cycles
    time.sleep(0.3)
    return daemon.cycles == before == daemon._started and not daemon._wake.is_set()


@contextmanager
def requests_every(seconds: float, daemon: Daemon) -> Iterator[None]:
    """Ask `daemon` for a cycle every `seconds` from another thread, as triggers do."""
    done = threading.Event()

    def ask() -> None:
        while not done.wait(seconds):
            daemon.request_cycle("trigger")

    asker = threading.Thread(target=ask, name="test-requests")
    asker.start()
    try:
        yield
    finally:
        done.set()
        asker.join()


@contextmanager
def store_load(store: Store, threads: int = 6) -> Iterator[list[int]]:
    """`threads` threads reading through `store` without pause, as a busy daemon's cycle,
    progress reports and notifier do at once; yields [reads, store errors] so far."""
    done, tally = threading.Event(), [0, 0]

    def read() -> None:
        while not done.is_set():
            try:
                store.load_recorded()
                store.events(limit=20)
                tally[0] += 1
            except StoreError:  # a session killed under it: the next read gets a new one
                tally[1] += 1
                time.sleep(0.05)

    readers = [threading.Thread(target=read, name=f"test-load-{i}") for i in range(threads)]
    for reader in readers:
        reader.start()
    try:
        yield tally
    finally:
        done.set()
        for reader in readers:
            reader.join()


@pytest.fixture
def stopping() -> Iterator[list[World]]:
    worlds: list[World] = []
    yield worlds
    for world in worlds:
        world.daemon.stop()
        world.store.close()


def test_a_standby_keeps_one_session_and_one_timer_then_takes_over_on_it(
    tmp_path: Path, pg_url: str, stopping: list[World]
) -> None:
    db = pg_url.rsplit("/", 1)[1]
    holder = LeaderLock(pg_url, application_name="tl-test-holder")
    assert holder.try_acquire()  # another replica leads
    lock = LeaderLock(pg_url, application_name="tl-test-standby")
    try:
        world = make_world(tmp_path, pg_url, interval=0.2, leader=lock, leader_settings=POLL)
        stopping.append(world)
        wait_until(lambda: world.daemon.role == "standby", 10)
        with admin() as conn:
            session = lock_sessions(conn, "tl-test-standby")
            windows = count_windows(conn, db, world.daemon, lock)
            assert lock_sessions(conn, "tl-test-standby") == session and len(session) == 1

            assert [w.sessions for w in windows] == [0] * WINDOWS
            assert [w.connects for w in windows] == [0] * WINDOWS and lock.connects == 1
            assert windows[-1].threads <= windows[0].threads
            for w in windows:  # one attempt per poll (0.2 s +- 20 %), not one per wake-up
                assert WINDOW / 0.24 - 2 <= w.attempts <= WINDOW / 0.16 + 2
            assert world.daemon.cycles == 0 and world.daemon.readiness()["ready"]

            holder.release()  # the leader goes away
            took = wait_until(lambda: world.daemon.role == "leader", 5)
            print(f"standby leads {took:.2f} s after the lock was freed")
            assert took < 0.24 + 1.0  # within one poll, with room for a loaded machine
            wait_until(lambda: world.daemon.cycles >= 1, 30)
            assert lock_sessions(conn, "tl-test-standby") == session  # taken on the kept one
            assert lock.connects == 1

            stopping.remove(world)  # SIGTERM: finish the cycle, release the lock, exit
            began = time.monotonic()
            world.daemon.stop()
            world.store.close()
            assert time.monotonic() - began < 10
            assert lock_sessions(conn, "tl-test-standby") == []
            assert holder.try_acquire()  # the lock is free again
    finally:
        holder.release()


def test_a_leader_backs_off_while_its_database_refuses_connections(
    tmp_path: Path, pg_url: str, stopping: list[World]
) -> None:
    db = pg_url.rsplit("/", 1)[1]
    lock = LeaderLock(pg_url, application_name="tl-test-leader")
    world = make_world(  # the test asks for cycles: the outage must begin between two of them
        tmp_path,
        pg_url,
        leader=lock,
        leader_settings=POLL,
        backoff=Backoff(delays=(0.5, 1.0, 2.0, 4.0)),
    )
    stopping.append(world)
    world.cycle()
    assert world.daemon.role == "leader"
    wait_until(lambda: idle(world.daemon), 30)  # a cycle in flight would meet the outage
    with admin() as conn:
        try:
            conn.execute(f'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS false')
            conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (db,),
            )
            world.daemon.request_cycle("test")
            wait_until(lambda: world.daemon.role == "standby", 5)  # stopped acting at once
            cycles = world.daemon.cycles
            with requests_every(0.1, world.daemon):  # webhooks, progress, the interval job
                windows = count_windows(conn, db, world.daemon, lock)
            assert world.daemon.cycles == cycles  # nothing acted on during the outage
        finally:
            conn.execute(f'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS true')
        attempts = [w.attempts for w in windows]
        # Backoff 0.5, 1, 2, 4 s: about 4, 1, 1 attempts; a fixed 0.2 s poll would be 20 each.
        assert sum(attempts) <= 8 and attempts[-1] <= 2 and attempts[-1] <= attempts[0]
        assert [w.connects for w in windows] == attempts  # each attempt is one connect, no more
        assert [w.sessions for w in windows] == [0] * WINDOWS
        assert windows[-1].threads <= windows[0].threads

        world.daemon.request_cycle("test")
        back = wait_until(lambda: world.daemon.role == "leader", 4.0 * 1.2 + 2)
        print(f"leads again {back:.2f} s after the database accepted connections")
        world.cycle()
        assert len(lock_sessions(conn, "tl-test-leader")) == 1


def test_a_leader_under_load_and_after_its_sessions_died_opens_no_connection(
    tmp_path: Path, pg_url: str, stopping: list[World]
) -> None:
    db = pg_url.rsplit("/", 1)[1]
    lock = LeaderLock(pg_url, application_name="tl-test-busy-leader")
    world = make_world(tmp_path, pg_url, interval=0.5, leader=lock, leader_settings=POLL)
    stopping.append(world)
    world.cycle()
    pool_name = CONNECT_KWARGS["application_name"]
    with admin() as conn, requests_every(0.1, world.daemon), store_load(world.store) as tally:
        loaded = count_windows(conn, db, world.daemon, lock)
        assert sessions_named(conn, db, pool_name) == POOL_SIZE
        # What a server restart does to clients: every pooled session ends at once.
        conn.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND application_name = %s",
            (db, pool_name),
        )
        after = count_windows(conn, db, world.daemon, lock, windows=1 + WINDOWS)
        print(f"reads {tally[0]}, store errors after the kill {tally[1]}")
        assert sessions_named(conn, db, pool_name) == POOL_SIZE
    assert tally[0] > 100 and world.daemon.role == "leader"
    # A pool growing on demand opened its extra connections here, with the load.
    assert [w.sessions for w in loaded] == [0] * WINDOWS
    assert 1 <= after[0].sessions <= POOL_SIZE  # each killed session replaced once
    assert [w.sessions for w in after[1:]] == [0] * WINDOWS
    assert sum(w.connects for w in loaded + after) == 0  # the lock kept its session
    assert after[-1].threads <= loaded[0].threads
