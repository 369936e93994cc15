"""The prune guard end to end: a commit deleting the whole fleet stops nothing until a person
confirms that deletion; then it is carried out. Real Git remote, real PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import yaml

from reconciler.model import Phase
from tests.daemon.conftest import SPEC, World, make_world
from tests.source.gitutil import git

pytestmark = [pytest.mark.pg, pytest.mark.git]

NAMES = [f"fed-{i:02d}" for i in range(12)]  # more than 10, and all of them: above both


def path(name: str) -> str:
    return f"specs/acme/{name}.yaml"


@pytest.fixture
def fleet(tmp_path: Path, pg_url: str) -> Iterator[World]:
    files = {path(n): SPEC.replace("name: digits-fedavg", f"name: {n}") for n in NAMES}
    world = make_world(tmp_path, pg_url, prune=True, files=files)
    try:
        world.cycle()
        assert phases(world) == {n: Phase.STARTING for n in NAMES}
        yield world
    finally:
        world.daemon.stop()
        world.store.close()


def phases(world: World) -> dict[str, Phase]:
    return {k.name: r.phase for k, r in world.store.load_recorded().items()}


def conditions_on_remote(world: World, name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    text = world.remote.show(world.remote.head(), f"status/acme/{name}.yaml")
    return {c["type"]: c for c in yaml.safe_load(text)["status"]["conditions"]}


def push_empty(world: World, message: str) -> str:
    """A person's empty commit (e.g. only a trailer), pushed on top of the daemon's."""
    clone = world.remote.clone
    git(clone, "pull", "--quiet", "--rebase", "origin", "main")
    git(clone, "commit", "--quiet", "--allow-empty", "-m", message)
    git(clone, "push", "--quiet", "origin", "HEAD:main")
    return world.remote.head()


def stopped_runs(world: World) -> int:
    return sum(1 for run in world.runtime.runs.values() if run.sub_status == "stopped")


def test_a_mass_deletion_waits_for_a_trailer_and_then_stops_the_fleet(fleet: World) -> None:
    fleet.push(dict.fromkeys(map(path, NAMES)), "delete every spec")

    for _ in range(2):  # held, and still held a cycle later
        fleet.cycle()
        assert phases(fleet) == {n: Phase.STARTING for n in NAMES}
        assert stopped_runs(fleet) == 0
    held = conditions_on_remote(fleet, "fed-03")["PruneBlocked"]
    assert held["status"] == "True" and held["reason"] == "MassDeletion"
    assert "stop 12 of 12 active federations" in held["message"]
    assert "Thunderline-Prune: confirm" in held["message"]
    assert fleet.daemon.metrics.prune_blocked._value.get() == 12
    outcome = fleet.daemon.last_outcome
    assert outcome is not None and outcome.plan is not None and outcome.plan.prune_blocked == 12

    push_empty(fleet, "confirm the deletion\n\nThunderline-Prune: confirm")
    fleet.cycle()

    assert phases(fleet) == {n: Phase.STOPPED for n in NAMES}
    assert stopped_runs(fleet) == 12
    assert "PruneBlocked" not in conditions_on_remote(fleet, "fed-03")
    assert fleet.daemon.metrics.prune_blocked._value.get() == 0


def test_a_trailer_in_the_deleting_commit_itself_confirms_it(fleet: World) -> None:
    fleet.push(dict.fromkeys(map(path, NAMES)), "retire the fleet\n\nThunderline-Prune: confirm")
    fleet.cycle()

    assert phases(fleet) == {n: Phase.STOPPED for n in NAMES}


def test_a_trailer_before_the_deletion_confirms_nothing(fleet: World) -> None:
    push_empty(fleet, "an old confirmation\n\nThunderline-Prune: confirm")
    fleet.cycle()
    fleet.push(dict.fromkeys(map(path, NAMES)), "delete every spec")
    fleet.cycle()

    assert phases(fleet) == {n: Phase.STARTING for n in NAMES}


def test_prune_confirm_names_the_deletion_and_goes_stale_when_specs_change(
    fleet: World,
) -> None:
    """`--prune-confirm REVISION` (set on the running daemon here, as a restart would)."""
    deleted = fleet.push(dict.fromkeys(map(path, NAMES[:11])), "delete 11 of 12")
    fleet.cycle()
    assert set(phases(fleet).values()) == {Phase.STARTING}
    fleet.push({path("fed-new"): SPEC.replace("name: digits-fedavg", "name: fed-new")}, "add")
    fleet.daemon.reconciler.prune_confirm = deleted  # specs/ moved on since: stale
    fleet.cycle()
    assert phases(fleet)["fed-00"] is Phase.STARTING  # still held: the confirmation is stale

    fleet.daemon.reconciler.prune_confirm = fleet.remote.head()  # this very specs/ tree
    fleet.cycle()

    now = phases(fleet)
    assert [n for n in NAMES if now[n] is Phase.STOPPED] == NAMES[:11]
    assert now["fed-11"] is now["fed-new"] is Phase.STARTING
