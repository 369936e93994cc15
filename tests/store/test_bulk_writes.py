"""Bulk writes keep the one-row guarantees: one event per row change, versions checked."""

from __future__ import annotations

import pytest

from reconciler.model import Phase
from reconciler.store import Store
from reconciler.store.bulk import Launch
from tests.store.conftest import make_spec, unique_spec

pytestmark = pytest.mark.pg


def test_create_many_records_each_with_its_created_event(store: Store) -> None:
    specs = [make_spec(f"bulk-{i}") for i in range(5)]
    created = store.create_many(specs)
    assert [f.key for f in created] == [s.key for s in specs]
    assert all(f.phase is Phase.PENDING and f.generation == 1 for f in created)
    events = store.events()
    assert [e.type for e in events] == ["fl.federation.created"] * 5
    assert [e.key for e in events] == [s.key for s in specs]
    assert events[0].payload == {"generation": 1, "digest": specs[0].digest, "path": specs[0].path}
    assert store.load_recorded()[specs[2].key].document == specs[2].document


def test_create_many_skips_federations_already_recorded(store: Store) -> None:
    first = make_spec("taken")
    store.create(first)
    created = store.create_many([first, make_spec("free")])
    assert [f.key.name for f in created] == ["free"]
    assert len(store.events()) == 2  # one created event each, none for the skipped one


def test_launch_many_moves_to_starting_and_records_runs(store: Store) -> None:
    created = store.create_many([unique_spec(), unique_spec()])
    launches = [Launch(f, run_id=2**63 + i, start_round=1) for i, f in enumerate(created)]
    launched = store.launch_many(launches)
    assert [f.phase for f in launched] == [Phase.STARTING, Phase.STARTING]
    assert all(f.attempt == 1 and f.run_generation == 1 for f in launched)
    assert all(f.observed_generation == 1 for f in launched)
    for fed, launch in zip(launched, launches, strict=True):
        assert store.run_for(fed.key, 1, 1) == launch.run_id
        started = [e for e in store.events(federation=fed.key) if e.type == "fl.federation.started"]
        assert len(started) == 1 and started[0].payload["run_id"] == launch.run_id


def test_launch_many_leaves_out_a_stale_writer(store: Store) -> None:
    fresh, stale = store.create_many([unique_spec(), unique_spec()])
    store.transition(stale.key, Phase.PAUSED, expected_version=stale.version)
    launched = store.launch_many([Launch(fresh, run_id=11), Launch(stale, run_id=12)])
    assert [f.key for f in launched] == [fresh.key]
    assert store.get(stale.key).phase is Phase.PAUSED
    assert store.run_for(stale.key, 1, 1) is None


def test_events_of_a_batch_are_in_order_and_gapless(store: Store) -> None:
    created = store.create_many([unique_spec() for _ in range(20)])
    store.launch_many([Launch(f, run_id=100 + i) for i, f in enumerate(created)])
    ids = [e.id for e in store.events()]
    assert ids == list(range(ids[0], ids[0] + 40))
