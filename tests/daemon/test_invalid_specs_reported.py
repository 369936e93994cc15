"""A spec that never became a federation is reported like one: an `Invalid` status file and
README row with every FILE:LINE:COL problem (`SpecInvalid`, or `PolicyDenied` when only the
tenant policy refuses it), shown by `reconciler status`; replaced by the normal report once
fixed, gone once the file is deleted. A start held back by maxConcurrent reads `Pending`
with a `Queued` condition. Real Git remote and PostgreSQL, the in-memory Flower runtime."""

from __future__ import annotations

import re

import pytest
import yaml

from reconciler.cli import main as cli_main
from tests.daemon.conftest import SPEC, World

pytestmark = [pytest.mark.pg, pytest.mark.git]

BROKEN_PATH = "specs/acme/broken.yaml"
BROKEN_YAML = "status/acme/broken.yaml"
DENIED_MODEL = "s3://fl-checkpoints/globex/victim/g1/round-0003.npz"
LOCATED = re.compile(r"^specs/acme/\S+\.yaml:\d+:\d+: ")


def spec_named(name: str) -> str:
    return SPEC.replace("name: digits-fedavg", f"name: {name}").replace(
        "prefix: digits-fedavg", f"prefix: {name}"
    )


def remote_status(world: World, path: str) -> dict | None:
    head = world.remote.head()
    if path not in world.remote.files_at(head):
        return None
    return yaml.safe_load(world.remote.show(head, path))["status"]


def conditions(status: dict) -> dict[str, dict]:
    return {c["type"]: c for c in status["conditions"]}


def status_cli(world: World, capsys: pytest.CaptureFixture[str], *args: str) -> str:
    capsys.readouterr()
    assert cli_main(["status", *args, "--database-url", world.store.url]) == 0
    return capsys.readouterr().out


def test_a_broken_new_spec_gets_an_invalid_report_until_fixed_then_the_normal_one(
    world: World, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    # Prepare: two problems in a new spec (a bad strategy name and a negative round count).
    broken = (
        spec_named("broken")
        .replace("total: 5", "total: -1")
        .replace("name: fedavg", "name: no-such-strategy")
    )
    world.cycle()
    world.push({BROKEN_PATH: broken}, "a broken spec")
    # Execute
    with caplog.at_level("INFO"):
        world.cycle()
    # Assert: the status file, the README row, the CLI and one log line.
    assert "broken" not in {k.name for k in world.store.load_recorded()}
    status = remote_status(world, BROKEN_YAML)
    assert status is not None
    assert status["phase"] == "Invalid" and status["reason"] == "SpecInvalid"
    assert status["specPath"] == BROKEN_PATH and status["generation"] == 0
    assert len(status["problems"]) >= 2
    assert all(LOCATED.match(p) for p in status["problems"]), status["problems"]
    found = conditions(status)
    assert found["SpecInvalid"]["status"] == "True"
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "ValidationFailed")
    assert found["Stalled"]["status"] == "True"
    readme = world.remote.show(world.remote.head(), "status/README.md")
    assert "[acme/broken](acme/broken.md)" in readme and "Invalid" in readme
    out = status_cli(world, capsys)
    assert re.search(r"acme\s+broken\s+Invalid", out), out
    for problem in status["problems"]:
        assert f"  {problem}" in out
    lines = [r for r in caplog.records if "specs/acme/broken.yaml" in r.getMessage()]
    assert len(lines) == 1 and lines[0].levelname == "WARNING"
    # Fixed: created as usual, the normal report replaces the Invalid one.
    world.push({BROKEN_PATH: spec_named("broken")}, "fixed")
    world.cycle()
    status = remote_status(world, BROKEN_YAML)
    assert status is not None and status["phase"] == "Starting"
    assert status["problems"] == [] and "SpecInvalid" not in conditions(status)
    assert "Invalid" not in status_cli(world, capsys)


def test_an_invalid_report_goes_when_its_file_is_deleted(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world.push({BROKEN_PATH: "metadata: [unclosed\n"}, "not even YAML")
    world.cycle()
    status = remote_status(world, BROKEN_YAML)  # named after its file: no name could be read
    assert status is not None and status["phase"] == "Invalid"
    assert all(LOCATED.match(p) for p in status["problems"]), status["problems"]
    assert "broken" in status_cli(world, capsys, "acme/broken")
    world.push({BROKEN_PATH: None}, "drop it")
    world.cycle()
    assert remote_status(world, BROKEN_YAML) is None
    assert "status/acme/broken.md" not in world.remote.files_at(world.remote.head())
    assert "acme/broken" not in world.remote.show(world.remote.head(), "status/README.md")
    assert "broken" not in status_cli(world, capsys)


def test_a_spec_the_policy_denies_reads_policy_denied(world: World) -> None:
    denied = spec_named("thief").replace(
        "uri: models/digits-logreg-init.npz", f"uri: {DENIED_MODEL}"
    )
    world.push({"specs/acme/thief.yaml": denied}, "train from globex's checkpoint")
    world.cycle()
    status = remote_status(world, "status/acme/thief.yaml")
    assert status is not None
    assert (status["phase"], status["reason"]) == ("Invalid", "PolicyDenied")
    found = conditions(status)
    assert found["PolicyDenied"]["status"] == "True" and "SpecInvalid" not in found
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "PolicyDenied")


def test_a_queued_start_reads_pending_with_a_queued_condition(
    limited: World, capsys: pytest.CaptureFixture[str]
) -> None:
    world = limited
    world.push({"specs/acme/second.yaml": spec_named("second")}, "a second federation")
    world.cycle()
    status = remote_status(world, "status/acme/second.yaml")
    assert status is not None
    assert status["phase"] == "Pending"
    found = conditions(status)
    assert found["Queued"]["status"] == "True" and "maxConcurrent" in found["Queued"]["message"]
    assert (found["Ready"]["status"], found["Ready"]["reason"]) == ("False", "Queued")
    assert "position 1 of 1" in found["Ready"]["message"]
    assert found["Reconciling"]["status"] == "True" and found["Stalled"]["status"] == "False"
    assert re.search(r"acme\s+second\s+Pending", status_cli(world, capsys))
    (first,) = world.run_ids()
    for _ in range(5):
        world.runtime.advance(first)  # the first completes: the second starts
    world.cycle()
    world.cycle()
    status = remote_status(world, "status/acme/second.yaml")
    assert status is not None and status["phase"] == "Starting"
    assert "Queued" not in conditions(status) and status["generation"] == 1


def test_a_repository_without_broken_specs_saves_no_findings(world: World) -> None:
    world.cycle()
    world.cycle()
    assert world.store.spec_findings() == []
    assert world.daemon.reporter.unrecorded.statuses == {}
