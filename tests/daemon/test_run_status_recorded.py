"""`runs.status` follows Flower's run status: the cycle writes what it observed, only when it
changed, in one statement. Real Git remote and PostgreSQL, the in-memory Flower runtime."""

from __future__ import annotations

import psycopg
import pytest

from tests.daemon.conftest import SPEC, SPEC_PATH, World

pytestmark = [pytest.mark.pg, pytest.mark.git]


def runs_table(world: World) -> list[tuple]:
    with psycopg.connect(world.store.url) as conn:
        return conn.execute(
            "SELECT run_id, status, sub_status, updated_at FROM runs ORDER BY run_id"
        ).fetchall()


def test_runs_status_reads_running_then_finished_completed(world: World) -> None:
    # Prepare: a submitted run (apply records it `pending`; Flower soon says `running`).
    world.cycle()
    (run_id,) = world.run_ids()
    # Execute: the run plays a round, then completes.
    world.runtime.advance(run_id)
    world.cycle()
    assert world.runtime.runs[run_id].status == "running"
    assert [row[:3] for row in runs_table(world)] == [(run_id, "running", "")]
    for _ in range(4):
        world.runtime.advance(run_id)
    world.cycle()
    # Assert
    assert [row[:3] for row in runs_table(world)] == [(run_id, "finished:completed", "completed")]


def test_an_unchanged_status_is_not_written_again(world: World) -> None:
    world.after_round_one()
    before = runs_table(world)
    world.cycle()
    world.cycle()
    assert runs_table(world) == before  # same status, same updated_at: no write


def test_a_stopped_run_reads_finished_stopped(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    world.push({SPEC_PATH: SPEC.replace("paused: false", "paused: false\n  stop: true")}, "stop it")
    world.cycle()
    world.cycle()
    assert world.runtime.runs[run_id].status == "finished"
    assert [row[1] for row in runs_table(world)] == ["finished:stopped"]


def test_a_run_that_dies_before_its_first_round_is_recovered(world: World) -> None:
    # Prepare: the run is submitted (Starting); the SuperLink restarts before round 1.
    world.cycle()
    (first,) = world.run_ids()
    world.runtime.fail(first)
    # Execute
    world.cycle()
    # Assert: a second attempt from the start, recorded as such (Starting -> Starting).
    record = world.record()
    assert (record.phase.value, record.attempt, record.recoveries) == ("Starting", 2, 1)
    assert len(world.run_ids()) == 2
    started = [e for e in world.store.events(limit=1000) if e.type == "fl.federation.started"]
    assert [e.payload["attempt"] for e in started] == [1, 2]
