"""Lifecycle transitions through the store: every allowed one writes the row and exactly one
event in one transaction; illegal or stale ones write nothing."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler import lifecycle
from reconciler.model import Phase
from reconciler.store import ConflictError, IllegalTransition, NotFound, Store
from tests.store.conftest import unique_spec, walk

pytestmark = pytest.mark.pg

P = Phase
# A path from Pending to each phase the store can hold.
REACH = {
    P.PENDING: (),
    P.STARTING: (P.STARTING,),
    P.RUNNING: (P.STARTING, P.RUNNING),
    P.PAUSED: (P.PAUSED,),
    P.COMPLETED: (P.STARTING, P.COMPLETED),
    P.FAILED: (P.FAILED,),
    P.STOPPED: (P.STOPPED,),
}
SAME_GENERATION = [
    (from_, to)
    for from_, targets in lifecycle.ALLOWED.items()
    if from_ is not None
    for to in targets
    if to is not P.PENDING
]


@pytest.mark.parametrize(("from_", "to"), SAME_GENERATION, ids=lambda p: p.value)
def test_allowed_transition_writes_row_and_one_event(
    shared_store: Store, from_: Phase, to: Phase
) -> None:
    store = shared_store
    key = store.create(unique_spec()).key
    walk(store, key, *REACH[from_])
    before = store.get(key)
    last_event = store.events(federation=key)[-1].id

    after = store.transition(
        key, to, expected_version=before.version, reason="why", payload={"run_id": 9}
    )

    assert (after.phase, after.version, after.reason) == (to, before.version + 1, "why")
    assert store.get(key) == after
    [event] = store.events(after_id=last_event, federation=key)
    assert event.type == lifecycle.event_type(from_, to)
    assert event.key == key
    assert event.payload["from"] == from_.value
    assert event.payload["run_id"] == 9
    assert event.payload["reason"] == "why"


@pytest.mark.parametrize("terminal", [P.COMPLETED, P.FAILED, P.STOPPED])
def test_finished_federation_returns_to_pending_with_a_new_generation(
    shared_store: Store, terminal: Phase
) -> None:
    store = shared_store
    key = store.create(unique_spec()).key
    walk(store, key, *REACH[terminal])
    before = store.get(key)
    last_event = store.events(federation=key)[-1].id
    new_spec = replace(unique_spec(rounds={"total": 7}), key=key)

    after = store.replace_spec(
        key, new_spec, expected_version=before.version, to=P.PENDING, changed=["spec.rounds.total"]
    )

    assert after.phase is P.PENDING
    assert (after.generation, after.total_rounds, after.digest) == (2, 7, new_spec.digest)
    assert (after.current_round, after.attempt, after.recoveries, after.run_generation) == (
        0,
        0,
        0,
        0,
    )
    assert dict(after.document) == new_spec.document
    [event] = store.events(after_id=last_event, federation=key)
    assert event.type == "fl.federation.created"
    assert event.payload["changed"] == ["spec.rounds.total"]
    assert event.generation == 2


@pytest.mark.parametrize(
    ("from_", "to"),
    [
        (P.PENDING, P.RUNNING),
        (P.PENDING, P.COMPLETED),
        (P.RUNNING, P.RUNNING),
        (P.PAUSED, P.RUNNING),
        (P.PAUSED, P.COMPLETED),
        (P.COMPLETED, P.RUNNING),
        (P.FAILED, P.STARTING),
        (P.STOPPED, P.PAUSED),
    ],
    ids=lambda p: p.value,
)
def test_illegal_transition_raises_and_writes_nothing(
    shared_store: Store, from_: Phase, to: Phase
) -> None:
    store = shared_store
    key = store.create(unique_spec()).key
    walk(store, key, *REACH[from_])
    before = store.get(key)
    events_before = store.events(federation=key)

    with pytest.raises(IllegalTransition):
        store.transition(key, to, expected_version=before.version)

    assert store.get(key) == before
    assert store.events(federation=key) == events_before


def test_creating_twice_is_a_conflict_and_writes_one_event(shared_store: Store) -> None:
    spec = unique_spec()
    shared_store.create(spec)

    with pytest.raises(ConflictError):
        shared_store.create(spec)

    assert [e.type for e in shared_store.events(federation=spec.key)] == ["fl.federation.created"]


def test_transition_of_unknown_federation_is_not_found(shared_store: Store) -> None:
    with pytest.raises(NotFound):
        shared_store.transition(unique_spec().key, P.STARTING, expected_version=1)


def test_pending_is_reached_only_through_a_new_spec(shared_store: Store) -> None:
    store = shared_store
    key = store.create(unique_spec()).key
    walk(store, key, P.STOPPED)

    with pytest.raises(ValueError, match="new generation"):
        store.transition(key, P.PENDING, expected_version=store.get(key).version)


def test_launch_records_the_run_generation_and_counters(shared_store: Store) -> None:
    store = shared_store
    spec = unique_spec()
    key = store.create(spec).key
    fed = store.replace_spec(
        key, replace(spec, document={**spec.document, "x": 1}, digest=""), expected_version=1
    )

    fed = store.transition(key, P.STARTING, expected_version=fed.version, attempt=1, recoveries=0)
    fed = store.transition(key, P.RUNNING, expected_version=fed.version)
    fed = store.transition(
        key, P.STARTING, expected_version=fed.version, attempt=2, recoveries=1, reason="run died"
    )

    assert (fed.run_generation, fed.attempt, fed.recoveries) == (2, 2, 1)
    last = store.events(federation=key)[-1]
    assert (last.type, last.payload["attempt"], last.payload["recoveries"]) == (
        "fl.federation.started",
        2,
        1,
    )
