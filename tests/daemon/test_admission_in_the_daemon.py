"""Admission in the daemon: a start waits for SuperNodes and queues behind --max-running, with
its reason in the status report. Real Git remote and PostgreSQL, the in-memory Flower runtime
(whose ListNodes answer the test sets)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.model import Phase
from tests.daemon.conftest import SPEC, SPEC_PATH, World, make_world, running
from tests.daemon.test_invalid_specs_reported import conditions, remote_status, spec_named

pytestmark = [pytest.mark.pg, pytest.mark.git]

STATUS = "status/acme/digits-fedavg.yaml"


@pytest.fixture
def two_nodes(tmp_path: Path, pg_url: str) -> Iterator[World]:
    """Two SuperNodes online; the example spec needs three (minAvailable: 3)."""
    yield from running(make_world(tmp_path, pg_url, nodes=2))


@pytest.fixture
def one_at_a_time(tmp_path: Path, pg_url: str) -> Iterator[World]:
    files = {SPEC_PATH: SPEC, "specs/acme/second.yaml": spec_named("second")}
    yield from running(make_world(tmp_path, pg_url, files=files, max_running=1))


def test_a_start_waits_for_supernodes_then_starts_when_they_connect(two_nodes: World) -> None:
    world = two_nodes
    world.cycle()
    assert world.record("digits-fedavg").phase is Phase.PENDING
    assert world.run_ids() == []
    status = remote_status(world, STATUS)
    assert status is not None and status["phase"] == "Pending"
    found = conditions(status)
    assert found["SuperNodesShort"]["status"] == "True"
    assert "2 of 3 needed online" in found["SuperNodesShort"]["message"]
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == (
        "False",
        "WaitingForSuperNodes",
    )
    world.runtime.set_nodes(3)
    world.cycle()
    assert world.record("digits-fedavg").phase is Phase.STARTING
    assert len(world.run_ids()) == 1
    status = remote_status(world, STATUS)
    assert status is not None and "SuperNodesShort" not in conditions(status)


def test_a_running_federation_short_of_supernodes_is_reported(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    world.runtime.set_nodes(1)
    world.cycle()
    status = remote_status(world, STATUS)
    assert status is not None and status["phase"] == "Running"
    short = conditions(status)["SuperNodesShort"]
    assert short["status"] == "True" and "1 of 3 SuperNodes needed are online" in short["message"]


def test_past_max_running_the_second_start_is_queued_until_the_first_ends(
    one_at_a_time: World,
) -> None:
    world = one_at_a_time
    world.cycle()
    assert world.record("second").phase is Phase.PENDING
    status = remote_status(world, "status/acme/second.yaml")
    assert status is not None
    queued = conditions(status)["Queued"]
    assert "position 1 of 1" in queued["message"] and "--max-running" in queued["message"]
    (first,) = world.run_ids()
    for _ in range(5):
        world.runtime.advance(first)
    world.cycle()
    world.cycle()
    assert world.record("digits-fedavg").phase is Phase.COMPLETED
    assert world.record("second").phase is Phase.STARTING


@pytest.fixture
def gpu_spec(tmp_path: Path, pg_url: str) -> Iterator[World]:
    """The example spec asking for SuperNodes tagged gpu; three nodes online."""
    text = SPEC.replace("spec:\n", "spec:\n  clientSelector:\n    tags: [gpu]\n", 1)
    assert "tags: [gpu]" in text
    yield from running(make_world(tmp_path, pg_url, files={SPEC_PATH: text}))


def test_a_selector_no_online_node_matches_is_a_pending_condition_naming_it(
    gpu_spec: World,
) -> None:
    world = gpu_spec
    nodes = [node.node_id for node in world.runtime.nodes()]
    world.store.nodes_labelled("acme", {nodes[0]: {"tags": "cpu"}, nodes[1]: {}, nodes[2]: {}})
    world.store.nodes_labelled("globex", {n: {"tags": "gpu"} for n in nodes})  # not acme's say

    world.cycle()

    assert world.record("digits-fedavg").phase is Phase.PENDING and world.run_ids() == []
    status = remote_status(world, STATUS)
    assert status is not None and status["phase"] == "Pending"
    short = conditions(status)["SuperNodesShort"]
    assert (short["status"], short["reason"]) == ("True", "NoEligibleSuperNodes")
    assert "none of the 3 online match clientSelector tags [gpu], tenant acme" in short["message"]
    world.store.nodes_labelled("acme", {n: {"tags": "gpu,eu"} for n in nodes})
    world.cycle()
    assert world.record("digits-fedavg").phase is Phase.STARTING
