"""The daemon enforces the same policy: a denied spec is never started, a running federation
whose spec becomes denied keeps running and says `PolicyDenied`, the denial is counted per
tenant, and a start past the tenant's maxConcurrent waits for a slot. Real Git remote and
PostgreSQL, the in-memory Flower runtime."""

from __future__ import annotations

import pytest
import yaml

from reconciler.model import Phase
from tests.daemon.conftest import SPEC, SPEC_PATH, World, limited, world

__all__ = ["limited", "world"]  # the fixtures, from the daemon tests' conftest

pytestmark = [pytest.mark.pg, pytest.mark.git]

STATUS = "status/acme/digits-fedavg.yaml"
DENIED_MODEL = "s3://fl-checkpoints/globex/victim/g1/round-0003.npz"


def spec_named(name: str) -> str:
    return SPEC.replace("name: digits-fedavg", f"name: {name}").replace(
        "prefix: digits-fedavg", f"prefix: {name}"
    )


def conditions(world: World, path: str = STATUS) -> dict[str, dict]:
    status = yaml.safe_load(world.remote.show(world.remote.head(), path))["status"]
    return {c["type"]: c for c in status["conditions"]}


def denied_gauge(world: World, tenant: str) -> float:
    value = world.daemon.metrics.registry.get_sample_value(
        "thunderline_specs_denied", {"tenant": tenant}
    )
    return value or 0.0


def test_a_new_denied_spec_is_never_started(world: World) -> None:
    world.cycle()
    assert len(world.run_ids()) == 1
    denied = spec_named("thief").replace(
        "uri: models/digits-logreg-init.npz", f"uri: {DENIED_MODEL}"
    )
    world.push({"specs/acme/thief.yaml": denied}, "train from globex's checkpoint")
    world.cycle()
    assert "thief" not in {k.name for k in world.store.load_recorded()}
    assert len(world.run_ids()) == 1  # nothing submitted for it
    assert denied_gauge(world, "acme") == 1


def test_a_running_federation_whose_spec_becomes_denied_runs_on_and_is_reported(
    world: World,
) -> None:
    run_id = world.after_round_one()
    world.push(
        {
            SPEC_PATH: SPEC.replace(
                "name: fedavg\n    params:\n", "name: custom\n    params:\n      class: os:system\n"
            )
        },
        "a strategy the policy does not allow",
    )
    world.cycle()
    record = world.record()
    assert record.phase is Phase.RUNNING and record.generation == 1
    assert world.run_ids() == [run_id]
    found = conditions(world)
    assert found["PolicyDenied"]["status"] == "True"
    assert "strategy class 'os:system' is not allowed" in found["PolicyDenied"]["message"]
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "PolicyDenied")
    assert "SpecInvalid" not in found  # the spec is well formed: only the policy says no
    world.push({SPEC_PATH: SPEC}, "back to fedavg")
    world.cycle()
    assert "PolicyDenied" not in conditions(world)
    assert denied_gauge(world, "acme") == 0


def test_a_start_past_max_concurrent_waits_for_a_slot(limited: World) -> None:
    world = limited
    world.push({"specs/acme/second.yaml": spec_named("second")}, "a second federation")
    world.cycle()
    assert world.record("second").phase is Phase.PENDING  # recorded: its place in the queue
    (first,) = world.run_ids()
    for _ in range(5):
        world.runtime.advance(first)  # the first federation completes: its slot frees up
    world.cycle()
    world.cycle()
    assert world.record("digits-fedavg").phase is Phase.COMPLETED
    assert world.record("second").phase is Phase.STARTING
    assert len(world.run_ids()) == 2
