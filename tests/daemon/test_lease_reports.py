"""What a run reports about leases and node labels reaches the record, the events and the
metrics: real HTTP endpoint, PostgreSQL and Git (the in-memory runtime plays the run).

A round's dropped nodes become one `fl.client.dropped` event each (round, reason) and count
in `fl_clients_dropped_total{reason}`; the round's metrics (status reports) keep the counts.
Node labels are stored under the reporting run's tenant and read back for admission.
"""

from __future__ import annotations

import pytest

from reconciler.runtime.progress import ReportKind
from tests.daemon.test_forged_progress import KEY, Running, post, running

__all__ = ["running"]  # the fixture, shared with the forged-report tests

pytestmark = [pytest.mark.pg, pytest.mark.git]


def dropped_total(state: Running, reason: str) -> float:
    value = state.world.daemon.metrics.registry.get_sample_value(
        "fl_clients_dropped_total",
        {"tenant": KEY.tenant, "federation": KEY.name, "reason": reason},
    )
    return value or 0.0


def test_nodes_dropped_for_a_round_become_events_and_metrics(running: Running) -> None:
    state, world = running, running.world
    metrics = {"clients": 1.0, "dropped": 2.0, "dropped-lease-ttl": 1.0}
    dropped = {"11": "lease-ttl", "12": "lease-exceeded"}
    assert post(world, state.report(ReportKind.ROUND_STARTED, 3))[0] == 200

    first = post(
        world, state.report(ReportKind.ROUND_COMPLETED, 3, metrics=metrics, dropped=dropped)
    )
    again = post(
        world, state.report(ReportKind.ROUND_COMPLETED, 3, metrics=metrics, dropped=dropped)
    )

    assert first[0] == again[0] == 200
    events = [e for e in world.store.events(federation=KEY) if e.type == "fl.client.dropped"]
    assert sorted(
        (e.payload["node_id"], e.payload["round"], e.payload["reason"]) for e in events
    ) == [
        ("11", 3, "lease-ttl"),
        ("12", 3, "lease-exceeded"),
    ]  # once, although reported twice
    assert dropped_total(state, "lease-ttl") == dropped_total(state, "lease-exceeded") == 1.0
    (round_3,) = [r for r in world.store.rounds(KEY) if r.number == 3]
    assert round_3.metrics["dropped"] == 2.0


def test_node_labels_are_kept_per_tenant(running: Running) -> None:
    state, world = running, running.world
    labels = {"21": {"tags": "gpu,eu"}, "22": {}}

    status, _ = post(world, state.report(ReportKind.NODE_LABELS, 3, labels=labels))
    newer, _ = post(world, state.report(ReportKind.NODE_LABELS, 3, labels={"22": {"tags": "cpu"}}))

    assert status == newer == 200
    assert world.store.node_labels() == {KEY.tenant: {21: {"tags": "gpu,eu"}, 22: {"tags": "cpu"}}}
