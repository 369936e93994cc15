"""Rounds that happened while the daemon was away are recorded from what the run left behind.

A run whose daemon is unreachable at its end keeps trying, then leaves its undelivered reports,
sealed, next to its checkpoints (flowerapp/undelivered.py); when Flower says the run finished,
the next cycle records them through the progress sink (daemon/undelivered.py). Real Git
remote, PostgreSQL and local artifact folder; the in-memory Flower runtime plays the run and
its reports go through a real `ProgressClient` to an address where nothing listens.
"""

from __future__ import annotations

import json
import logging
import socket
from pathlib import Path

import pytest

from reconciler.artifacts import StoreUnavailable
from reconciler.daemon import undelivered as daemon_undelivered
from reconciler.flowerapp.undelivered import keep_undelivered
from reconciler.model import FederationKey, Phase
from reconciler.runtime.progress import ProgressClient, journal_name, make_token
from tests.daemon.conftest import World

pytestmark = [pytest.mark.pg, pytest.mark.git]

KEY = FederationKey("acme", "digits-fedavg")
PROGRESS_KEY = b"progress-test-secret"  # tests/daemon/conftest.py gives the daemon this key
TOTAL = 5  # rounds.total of specs/acme/digits-fedavg.yaml


def closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1/progress"  # nothing listens there any more


def play_while_away(world: World, run_id: int, rounds: int) -> ProgressClient:
    """Play `rounds` more rounds of the run while the daemon cannot be reached."""
    record = world.store.get(KEY)
    token = make_token(PROGRESS_KEY, str(KEY), record.run_generation, record.attempt, run_id)
    client = ProgressClient(closed_port_url(), token, delays=(0.01,), timeout=0.5)
    sink, world.runtime.sink = world.runtime.sink, client
    try:
        for _ in range(rounds):
            world.runtime.advance(run_id)
    finally:
        world.runtime.sink = sink
    return client


def checkpoint_folder(world: World, run_id: int) -> str:
    return world.runtime.runs[run_id].request.checkpoint_base


def round_statuses(world: World) -> list[tuple[int, str]]:
    return [(r.number, r.status) for r in world.store.rounds(KEY)]


def event_types(world: World) -> list[str]:
    return [e.type for e in world.store.events(limit=10_000) if e.key == KEY]


def test_rounds_and_the_end_reported_while_the_daemon_was_away_are_recorded(
    world: World,
) -> None:
    # Prepare: round 1 reaches the daemon; rounds 2-5 and the completion do not.
    run_id = world.after_round_one()
    client = play_while_away(world, run_id, TOTAL - 1)
    assert world.runtime.runs[run_id].status == "finished"
    pending = client.pending
    keep_undelivered(client, checkpoint_folder(world, run_id), run_id, budget=0.05)
    journal = Path(world.tmp, "artifacts").rglob(journal_name(run_id))
    assert len(list(journal)) == 1
    # Execute: the daemon sees the run finished.
    world.cycle()
    # Assert: every round, every checkpoint and the completion recorded once; no new attempt.
    record = world.store.get(KEY)
    assert (record.phase, record.current_round, record.attempt) == (Phase.COMPLETED, TOTAL, 1)
    assert round_statuses(world) == [(r, "completed") for r in range(1, TOTAL + 1)]
    assert [a.round for a in world.store.artifacts(KEY)] == list(range(1, TOTAL + 1))
    assert world.run_ids() == [run_id]
    types = event_types(world)
    assert types.count("fl.round.completed") == TOTAL
    assert types.count("fl.aggregate.completed") == TOTAL
    assert types.count("fl.federation.completed") == 1
    assert pending >= 3 * (TOTAL - 1) + 1  # started, completed, checkpoint per round; the end


def test_a_journal_not_sealed_with_the_runs_token_is_ignored(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: the run left a journal, then someone with bucket access rewrote its metrics.
    run_id = world.after_round_one()
    client = play_while_away(world, run_id, TOTAL - 1)
    keep_undelivered(client, checkpoint_folder(world, run_id), run_id, budget=0.05)
    (path,) = Path(world.tmp, "artifacts").rglob(journal_name(run_id))
    body = json.loads(path.read_bytes())
    body["reports"][1]["metrics"] = {"accuracy": 1.0}
    path.write_text(json.dumps(body))
    # Execute
    with caplog.at_level(logging.WARNING, logger="reconciler.daemon.undelivered"):
        world.cycle()
    # Assert: nothing from the file counts; Flower's "completed" after round 1 of 5 is a
    # run that ended early, recovered from the last checkpoint as before.
    assert "seal does not match" in caplog.text
    assert round_statuses(world)[1:] == []
    assert world.store.get(KEY).attempt == 2


def test_while_the_artifact_store_cannot_be_read_the_runs_end_decides_nothing(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Prepare: a run that ended while the daemon was away; the store is down when it looks.
    world.cycle()
    (run_id,) = world.run_ids()
    client = play_while_away(world, run_id, TOTAL)
    keep_undelivered(client, checkpoint_folder(world, run_id), run_id, budget=0.05)
    real_open_store = daemon_undelivered.open_store

    class Down:
        def get(self, uri: str, dest: Path, *, sha256: str | None = None) -> Path:
            raise StoreUnavailable("s3 endpoint unreachable (test)")

    monkeypatch.setattr(daemon_undelivered, "open_store", lambda base: Down())
    # Execute: a cycle while it is down, then one after it is back.
    world.cycle()
    held = world.store.get(KEY)
    last_errors = world.daemon.failures.last_errors()
    monkeypatch.setattr(daemon_undelivered, "open_store", real_open_store)
    world.cycle()
    # Assert: no recovery was started from the unread end; once read, the run completed.
    assert (held.phase, held.attempt) == (Phase.STARTING, 1)
    assert "unreachable (test)" in last_errors["artifacts"]["message"]
    assert world.store.get(KEY).phase is Phase.COMPLETED
    assert world.run_ids() == [run_id]
    assert world.daemon.failures.last_errors()["artifacts"]["failing"] is False


def test_a_stopped_federation_leaves_no_round_started(world: World) -> None:
    # Prepare: round 2 has started when the spec asks for a stop.
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    record = world.store.get(KEY)
    assert world.store.round_started(KEY, record.run_generation, 2)
    # Execute
    world.store.transition(KEY, Phase.STOPPED, expected_version=world.store.get(KEY).version)
    # Assert
    assert round_statuses(world) == [(1, "completed"), (2, "interrupted")]
    (stopped,) = [e for e in world.store.events(limit=1000) if e.type == "fl.federation.stopped"]
    assert stopped.payload["interrupted_rounds"] == [2]
