"""Faults of the parts the daemon stands on: its database sessions die mid-run, its Git
remote disappears while pruning is on. What the daemon does, what the status says, and
that nothing is stopped, pruned or recorded twice because of it.

Real PostgreSQL and Git, the in-memory runtime (`tests.daemon.conftest.make_world`).
The Flower-side faults (SuperLink restart, a SuperNode killed) are in tests/runtime/ and
tests/reliability/test_crash_at_every_kill_point.py; docs/reliability.md maps them.
"""

from __future__ import annotations

import shutil
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from reconciler.model import Phase
from tests.conftest import ADMIN_URL
from tests.daemon.conftest import World, isolated_git, make_world

__all__ = ["isolated_git"]

pytestmark = [pytest.mark.pg, pytest.mark.git]


def kill_sessions(pg_url: str) -> int:
    """Terminate every session on the test database, as a server restart would."""
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        rows = admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
            " WHERE datname = %s AND pid <> pg_backend_pid()",
            (pg_url.rsplit("/", 1)[1],),
        ).fetchall()
    return len(rows)


def cycle_until_ok(world: World, tries: int = 6) -> int:
    """Cycles until one reaches the store again; returns how many failed first."""
    for failed in range(tries):
        world.cycle()
        outcome = world.daemon.last_outcome
        if outcome is not None and not outcome.store_error:
            return failed
    raise AssertionError("the daemon did not get its database back")


def test_database_sessions_killed_mid_run_lose_and_repeat_nothing(
    tmp_path: Path, pg_url: str
) -> None:
    world = make_world(tmp_path, pg_url)
    try:
        world.cycle()
        (run_id,) = world.run_ids()
        world.runtime.advance(run_id)
        world.cycle()
        assert world.record().phase is Phase.RUNNING

        assert kill_sessions(pg_url) >= 1
        failed_cycles = cycle_until_ok(world)
        world.runtime.advance(run_id)  # round 2 reported over fresh connections
        world.cycle()

        # Each pooled connection the restart killed fails one cycle before it is replaced
        # (the pool checks connections only after they sat idle): at most the pool's size.
        print(f"\ncycles that found the database gone: {failed_cycles}")
        assert failed_cycles <= 4
        record = world.record()
        assert record.phase is Phase.RUNNING and record.current_round == 2
        assert world.run_ids() == [run_id]  # nothing resubmitted, nothing stopped
        rounds = Counter(
            (e.type, e.payload.get("round"))
            for e in world.store.events(federation=record.key)
            if e.type.startswith("fl.round.")
        )
        assert rounds == {
            ("fl.round.started", 1): 1,
            ("fl.round.completed", 1): 1,
            ("fl.round.started", 2): 1,
            ("fl.round.completed", 2): 1,
        }
        status = world.daemon.reporter.statuses[record.key]
        assert status.phase is Phase.RUNNING
    finally:
        world.daemon.stop()
        world.store.close()


def test_remote_unreachable_with_pruning_on_prunes_nothing(tmp_path: Path, pg_url: str) -> None:
    world = make_world(tmp_path, pg_url, prune=True)
    try:
        world.cycle()
        (run_id,) = world.run_ids()
        world.runtime.advance(run_id)
        world.cycle()
        moved = world.remote.bare.with_name("moved.git")
        shutil.move(world.remote.bare, moved)

        for _ in range(3):
            world.cycle()
            outcome = world.daemon.last_outcome
            assert outcome is not None and outcome.source_error
            assert outcome.plan is not None and not outcome.plan.has_changes

        record = world.record()
        assert record.phase is Phase.RUNNING  # a failed fetch is never a deletion
        assert world.runtime.runs[run_id].status != "finished"
        conditions = {c.type for c in world.daemon.reporter.statuses[record.key].conditions}
        assert "SourceUnavailable" in conditions
        shutil.move(moved, world.remote.bare)
        world.cycle()
        assert not world.daemon.last_outcome.source_error  # type: ignore[union-attr]
    finally:
        world.daemon.stop()
        world.store.close()
