"""The election's timing on a fake clock and a fake lock: a standby tries at one cadence
whatever wakes it, backs off while the database is down, and a leader that lost its lock
stops at once."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.daemon.election import Election
from reconciler.settings import Backoff
from reconciler.store import StoreUnavailable

BACKOFF = Backoff(delays=(1.0, 2.0, 5.0), jitter=0.0)


@dataclass
class Clock:
    now: float = 100.0

    def __call__(self) -> float:
        return self.now


@dataclass
class FakeLock:
    free: bool = False
    down: bool = False
    held: bool = False
    attempts: list[float] = field(default_factory=list)
    clock: Clock = field(default_factory=Clock)

    def try_acquire(self) -> bool:
        self.attempts.append(self.clock.now)
        if self.down:
            raise StoreUnavailable("cannot reach PostgreSQL at test")
        self.held = self.free
        return self.held

    def is_held(self) -> bool:
        return self.held and not self.down


def election(clock: Clock) -> Election:
    return Election(poll=1.0, jitter=0.0, backoff=BACKOFF, clock=clock)


def test_a_standby_tries_once_per_poll_however_often_it_is_woken() -> None:
    clock = Clock()
    lock = FakeLock(clock=clock)
    e = election(clock)

    start = clock.now
    for tick in range(50):  # ten seconds of requests five times a second
        clock.now = start + tick / 5
        assert not e.lead(lock)

    assert e.role == "standby"
    assert len(lock.attempts) == 10
    assert 0.0 <= (e.due_in() or 0.0) <= 1.0


def test_a_standby_backs_off_while_the_database_is_down_and_resets_after() -> None:
    clock = Clock()
    lock = FakeLock(clock=clock, down=True)
    e = election(clock)
    start = clock.now

    for tick in range(300):  # thirty seconds
        clock.now = start + tick / 10
        e.lead(lock)

    offsets = [round(t - start, 1) for t in lock.attempts]
    assert offsets == [0.0, 1.0, 3.0, 8.0, 13.0, 18.0, 23.0, 28.0]  # 1, 2, 5, then 5 again
    lock.down = False
    clock.now = lock.attempts[-1] + 5.0
    e.lead(lock)
    assert e.failures == 0 and e.due_in() == 1.0  # the poll cadence again


def test_a_leader_that_lost_its_lock_stops_at_once_and_tries_again_after_a_poll() -> None:
    clock = Clock()
    lock = FakeLock(clock=clock, free=True)
    e = election(clock)
    assert e.lead(lock) and e.due_in() is None  # a leader has no lock poll

    lock.held = False  # its session died
    assert not e.lead(lock)
    assert e.role == "standby" and len(lock.attempts) == 1
    clock.now += 0.5
    assert not e.lead(lock) and len(lock.attempts) == 1  # not before the poll
    clock.now += 0.5
    assert e.lead(lock) and len(lock.attempts) == 2


def test_without_a_lock_the_replica_always_leads() -> None:
    e = election(Clock())
    assert e.lead(None) and e.role == "leader" and e.due_in() is None
