"""A spec naming a SuperLink the daemon does not drive: `SpecInvalid` at its line and
column, never started, while the other specs go on; the run of one it drives is recorded
with its target, which its status shows (`flowerTarget`). Real Git remote and PostgreSQL, the in-memory Flower runtime."""

from __future__ import annotations

import pytest

from reconciler.model import DEFAULT_TARGET, Phase
from tests.daemon.conftest import World
from tests.daemon.test_invalid_specs_reported import conditions, remote_status, spec_named

pytestmark = [pytest.mark.pg, pytest.mark.git]


def test_an_unknown_target_is_a_located_spec_error_and_others_run(world: World) -> None:
    # Prepare: one spec for a SuperLink this daemon does not drive, one for its default.
    elsewhere = spec_named("elsewhere").replace(
        "spec:\n  paused: false", "spec:\n  target: ap-south\n  paused: false"
    )
    assert "target: ap-south" in elsewhere
    world.push({"specs/acme/elsewhere.yaml": elsewhere}, "a spec for another region")
    # Execute
    world.cycle()
    # Assert
    assert world.daemon.reconciler.last_fetch_ok is not None  # the cycle ran to its end
    recorded = {k.name: r for k, r in world.store.load_recorded().items()}
    assert "elsewhere" not in recorded and recorded["digits-fedavg"].phase is Phase.STARTING
    status = remote_status(world, "status/acme/elsewhere.yaml")
    assert status is not None and status["phase"] == "Invalid"
    (problem,) = status["problems"]
    assert problem.startswith("specs/acme/elsewhere.yaml:12:11: spec.target: unknown target")
    assert "this daemon drives default" in problem
    assert conditions(status)["SpecInvalid"]["status"] == "True"
    (run,) = world.store.runs(recorded["digits-fedavg"].key)
    assert run.target == DEFAULT_TARGET
    started = remote_status(world, "status/acme/digits-fedavg.yaml")
    assert started is not None and started["flowerTarget"] == DEFAULT_TARGET
