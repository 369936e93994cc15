"""The GitOps loop end to end: pushes to a real remote drive federations; status comes back."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from reconciler.model import Phase
from tests.daemon.conftest import SPEC, SPEC_PATH, World, make_world
from tests.support.policies import OPEN_POLICY

pytestmark = [pytest.mark.pg, pytest.mark.git]

STATUS_YAML = "status/acme/digits-fedavg.yaml"


def status_on_remote(world: World) -> dict:
    return yaml.safe_load(world.remote.show(world.remote.head(), STATUS_YAML))["status"]


def test_pushed_spec_starts_and_status_appears_on_the_remote(world: World) -> None:
    world.cycle()
    assert world.record().phase is Phase.STARTING
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    world.cycle()
    status = status_on_remote(world)
    assert status["phase"] == "Running"
    assert status["rounds"] == {"current": 1, "total": 5}
    assert status["flowerRunIds"] == [run_id]
    assert "status/README.md" in world.remote.files_at(world.remote.head())


def test_completion_records_artifact_and_reports_it(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    for _ in range(5):
        world.runtime.advance(run_id)
    world.cycle()
    status = status_on_remote(world)
    assert status["phase"] == "Completed"
    assert status["artifact"]["uri"].endswith("/g1/round-0005.npz")
    assert len(status["artifact"]["sha256"]) == 64
    assert status["observedGeneration"] == 1


def test_pause_then_resume_continues_from_the_checkpoint(world: World) -> None:
    world.cycle()
    (first,) = world.run_ids()
    world.runtime.advance(first)
    world.push({SPEC_PATH: SPEC.replace("paused: false", "paused: true")}, "pause")
    world.cycle()
    assert world.record().phase is Phase.PAUSED
    world.runtime.advance(first)  # the run reaches its boundary and halts
    assert world.runtime.runs[first].status == "finished"
    world.push({SPEC_PATH: SPEC}, "resume")
    world.cycle()
    record = world.record()
    assert record.phase is Phase.STARTING and record.attempt == 2
    second = world.run_ids()[-1]
    assert world.runtime.runs[second].request.start_round == 2  # round 1 is not redone
    assert world.runtime.runs[second].request.resume_from is not None
    world.runtime.advance(second)
    world.cycle()
    assert status_on_remote(world)["rounds"]["current"] == 2


def test_deleted_spec_is_orphaned_when_pruning_is_off(world: World) -> None:
    world.cycle()
    world.push({SPEC_PATH: None}, "delete")
    world.cycle()
    assert world.record().phase is Phase.STARTING  # untouched
    conditions = {c["type"]: c for c in status_on_remote(world)["conditions"]}
    assert conditions["Orphaned"]["status"] == "True"


def test_deleted_spec_is_stopped_when_pruning_is_on(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    world = make_world(tmp_path, pg_url, prune=True)
    try:
        world.cycle()
        world.push({SPEC_PATH: None}, "delete")
        world.cycle()
        assert world.record().phase is Phase.STOPPED
        (run_id,) = world.run_ids()
        assert world.runtime.runs[run_id].sub_status == "stopped"
    finally:
        world.daemon.stop()
        world.store.close()


def test_a_typo_never_stops_a_running_federation(world: World) -> None:
    world.cycle()
    world.push({SPEC_PATH: SPEC.replace("total: 5", "total: five")}, "typo")
    world.cycle()
    assert world.record().phase is Phase.STARTING
    conditions = {c["type"]: c for c in status_on_remote(world)["conditions"]}
    assert conditions["SpecInvalid"]["status"] == "True"
    assert "spec.rounds.total" in conditions["SpecInvalid"]["message"]


def test_the_daemons_checkout_holds_data_but_not_specs_or_status(world: World) -> None:
    world.push({"data/x.csv": "a,b\n"}, "data file")
    world.cycle()
    root = world.daemon.parts.source.workdir
    assert (root / "data/x.csv").read_text() == "a,b\n"  # runs read data by relative path
    assert not (root / "specs").exists() and not (root / "status").exists()
    assert world.record().phase is Phase.STARTING  # specs still came through, from Git objects


def test_fixing_an_app_folder_clears_its_specs_problem(tmp_path, pg_url) -> None:  # type: ignore[no-untyped-def]
    """A spec is checked against the app folder it names; the folder can change on its own."""
    examples = Path(__file__).parents[2] / "examples"
    app = examples / "apps" / "quickstart-numpy"
    spec = (examples / "app-specs/acme/quickstart-numpy.yaml").read_text()
    files = {
        f"apps/quickstart-numpy/{p.relative_to(app).as_posix()}": p.read_text()
        for p in app.rglob("*")
        if p.is_file() and "__pycache__" not in p.parts
    }
    pyproject = "apps/quickstart-numpy/pyproject.toml"
    files[pyproject] = files[pyproject].replace("local-epochs = 20\n", "")
    files["specs/acme/quickstart-numpy.yaml"] = spec
    world = make_world(tmp_path, pg_url, files=files, policy=OPEN_POLICY)  # an own app
    try:
        world.cycle()
        problems = world.daemon.last_outcome.desired.problems  # type: ignore[union-attr]
        assert any("local-epochs" in str(p) for ps in problems.values() for p in ps)
        fixed = (app / "pyproject.toml").read_text()
        world.push({pyproject: fixed}, "declare local-epochs")  # the spec itself is unchanged
        world.cycle()
        assert not world.daemon.last_outcome.desired.problems  # type: ignore[union-attr]
    finally:
        world.daemon.stop()
        world.store.close()


def test_a_quiet_cycle_rebuilds_no_status_and_commits_nothing(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    world.cycle()
    before, head = world.daemon.reporter.statuses, world.remote.head()
    world.cycle()
    assert world.daemon.reporter.statuses is before
    assert world.remote.head() == head
    world.runtime.advance(run_id)  # round 2 recorded: that federation's status moves
    world.cycle()
    assert world.daemon.reporter.statuses is not before
    assert status_on_remote(world)["rounds"] == {"current": 2, "total": 5}
