"""Flower run ids are per SuperLink: the store knows a run by (target, run id), so two
SuperLinks' run 1 are two runs, each updated from its own SuperLink's observation."""

from __future__ import annotations

import pytest

from reconciler.model import DEFAULT_TARGET, FederationKey, Phase
from reconciler.store import ConflictError, Store
from tests.store.conftest import unique_spec, walk

pytestmark = pytest.mark.pg


def _running(store: Store) -> FederationKey:
    key = store.create(unique_spec()).key
    walk(store, key, Phase.STARTING, Phase.RUNNING)
    return key


def test_run_one_on_two_superlinks_is_two_runs(shared_store: Store) -> None:
    store = shared_store
    eu, us = _running(store), _running(store)
    store.record_run(eu, generation=1, attempt=1, run_id=1, status="pending", target="eu")
    store.record_run(us, generation=1, attempt=1, run_id=1, status="pending", target="us")

    changed = store.update_run_statuses([("us", 1, "finished:completed", "completed", "")])

    assert changed == 1
    assert [(r.target, r.run_id, r.status) for r in store.runs(eu)] == [("eu", 1, "pending")]
    assert [(r.target, r.status) for r in store.runs(us)] == [("us", "finished:completed")]
    assert store.run_and_target_for(us, 1, 1) == ("us", 1)
    assert store.run_for(eu, 1, 1) == 1


def test_the_same_run_on_the_same_superlink_belongs_to_one_attempt(shared_store: Store) -> None:
    store = shared_store
    first, second = _running(store), _running(store)
    store.record_run(first, generation=1, attempt=1, run_id=7, status="pending", target="eu")
    with pytest.raises(ConflictError):
        store.record_run(second, generation=1, attempt=1, run_id=7, status="pending", target="eu")


def test_a_run_recorded_without_a_target_is_on_the_default_one(shared_store: Store) -> None:
    store = shared_store
    key = _running(store)
    store.record_run(key, generation=1, attempt=1, run_id=99, status="pending")
    store.update_run_status(99, "running")
    [run] = store.runs(key)
    assert (run.target, run.status) == (DEFAULT_TARGET, "running")
    assert store.report_parts([key])[key].runs[0].target == DEFAULT_TARGET
