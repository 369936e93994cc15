"""Progress from a Flower run: rounds, artifacts and clients are recorded once, with one event
each, however often the ServerApp retries its report; runs are recorded for adoption."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.model import FederationKey, Phase
from reconciler.store import ConflictError, NotFound, Store
from tests.store.conftest import unique_spec, walk

pytestmark = pytest.mark.pg

SHA = "ab" * 32
# Flower run ids are unsigned 64-bit: half of them do not fit PostgreSQL's bigint.
RUN_ID = 18_246_744_073_709_551_610


def _running(store: Store) -> FederationKey:
    key = store.create(unique_spec(rounds={"total": 5})).key
    walk(store, key, Phase.STARTING, Phase.RUNNING)
    return key


def _types(store: Store, key: FederationKey) -> list[str]:
    return [e.type for e in store.events(federation=key) if not e.type.startswith("fl.federation")]


def test_a_round_reported_twice_is_recorded_once(shared_store: Store) -> None:
    store = shared_store
    key = _running(store)

    firsts = [store.round_started(key, 1, 1), store.round_completed(key, 1, 1, {"loss": 0.25})]
    repeats = [store.round_started(key, 1, 1), store.round_completed(key, 1, 1, {"loss": 9.0})]

    assert firsts == [True, True] and repeats == [False, False]
    [round_1] = store.rounds(key)
    assert (round_1.number, round_1.status, round_1.metrics) == (1, "completed", {"loss": 0.25})
    assert round_1.started_at is not None and round_1.completed_at is not None
    assert _types(store, key) == ["fl.round.started", "fl.round.completed"]


def test_rounds_move_current_round_forward_only(shared_store: Store) -> None:
    store = shared_store
    key = _running(store)
    version = store.get(key).version

    store.round_started(key, 1, 2)
    store.round_completed(key, 1, 1, {})  # a late report of an earlier round

    fed = store.get(key)
    assert fed.current_round == 2
    assert fed.version == version + 1  # only the move to round 2 wrote the row


def test_a_completion_without_its_start_still_counts(shared_store: Store) -> None:
    store = shared_store
    key = _running(store)

    assert store.round_completed(key, 1, 3, {"accuracy": 0.9})

    assert store.get(key).current_round == 3
    assert store.rounds(key)[0].started_at is None


def test_artifact_is_recorded_once_and_a_different_one_conflicts(shared_store: Store) -> None:
    store = shared_store
    key = _running(store)
    artifact = {"uri": "s3://b/r1.npz", "sha256": SHA, "size": 1234, "format": "npz"}

    assert store.artifact_recorded(key, 1, 1, **artifact)
    assert not store.artifact_recorded(key, 1, 1, **artifact)
    with pytest.raises(ConflictError):
        store.artifact_recorded(key, 1, 1, **{**artifact, "sha256": "cd" * 32})
    store.artifact_recorded(key, 1, 2, **{**artifact, "uri": "s3://b/r2.npz"})

    assert [a.round for a in store.artifacts(key)] == [1, 2]
    latest = store.latest_artifact(key)
    assert latest is not None and (latest.uri, latest.size) == ("s3://b/r2.npz", 1234)
    assert _types(store, key) == ["fl.aggregate.completed", "fl.aggregate.completed"]
    assert store.events(federation=key)[-1].payload["sha256"] == SHA


def test_clients_join_and_drop_once_each(shared_store: Store) -> None:
    store = shared_store
    key = _running(store)

    calls = [
        store.client_joined(key, 1, "node-7"),
        store.client_joined(key, 1, "node-7"),
        store.client_dropped(key, 1, "node-7"),
        store.client_dropped(key, 1, "node-7"),
        store.client_joined(key, 1, "node-7"),
    ]

    assert calls == [True, False, True, False, True]
    assert _types(store, key) == ["fl.client.joined", "fl.client.dropped", "fl.client.joined"]


def test_reports_from_a_superseded_run_are_refused(shared_store: Store) -> None:
    store = shared_store
    spec = unique_spec()
    key = store.create(spec).key
    walk(store, key, Phase.STARTING)  # the run is launched with generation 1
    doc = {**spec.document, "note": "in place"}
    fed = store.replace_spec(key, replace(spec, document=doc, digest=""), expected_version=2)

    assert fed.generation == 2 and fed.run_generation == 1
    assert store.round_started(key, 1, 1)  # the running generation-1 run still reports
    with pytest.raises(ConflictError, match="generation 1"):
        store.round_started(key, 2, 2)
    with pytest.raises(NotFound):
        store.round_started(FederationKey("acme", "nobody"), 1, 1)


def test_runs_are_recorded_once_and_found_again_after_a_crash(shared_store: Store) -> None:
    store = shared_store
    key = _running(store)

    store.record_run(key, generation=1, attempt=1, run_id=RUN_ID, status="pending")
    store.record_run(key, generation=1, attempt=1, run_id=RUN_ID, status="pending")
    with pytest.raises(ConflictError):
        store.record_run(key, generation=1, attempt=1, run_id=515151, status="pending")
    store.update_run_status(RUN_ID, "finished", "completed", "all rounds done")

    assert store.run_for(key, 1, 1) == RUN_ID
    assert store.run_for(key, 1, 2) is None
    [run] = store.runs(key)
    assert (run.status, run.sub_status, run.details) == ("finished", "completed", "all rounds done")
    with pytest.raises(NotFound):
        store.update_run_status(999, "finished")
