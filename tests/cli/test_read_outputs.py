"""Every `-o` of every read command against a real database, checked against golden files."""

from __future__ import annotations

import json

import pytest
import yaml

from tests.cli.conftest import GOLDEN, check_golden, cli

pytestmark = pytest.mark.pg

CASES = {
    "status": ["status"],
    "status-one": ["status", "acme/digits"],
    "describe": ["describe", "digits"],
    "history": ["history", "digits"],
    "events": ["events", "--federation", "acme/digits"],
}
FORMATS = {"text": "txt", "json": "json", "yaml": "yaml"}


RUNS = [(case, fmt) for case in CASES for fmt in FORMATS] + [
    ("status", "wide"),
    ("status-one", "wide"),
]


@pytest.mark.parametrize(("case", "fmt"), RUNS)
def test_output_matches_golden_file(
    recorded: str, case: str, fmt: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert cli(*CASES[case], "-o", fmt, "--database-url", recorded) == 0

    check_golden(f"{case}.{FORMATS.get(fmt, 'wide.txt')}", capsys.readouterr().out)


def test_one_name_is_one_object_in_camel_case(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert cli("status", "acme/digits", "-o", "json", "--database-url", recorded) == 0

    doc = json.loads(capsys.readouterr().out)
    assert doc["phase"] == "Running" and doc["round"] == {"current": 2, "total": 5}
    assert doc["bestRound"] == {
        "number": 1,
        "metric": "accuracy",
        "value": 0.812345,
        "checkpoint": "file:///ckpt/r1.npz",
    }
    assert doc["checkpoint"]["uri"] == "file:///ckpt/r2.npz"
    assert {c["type"] for c in doc["conditions"]} >= {"Ready", "Reconciling", "Stalled"}
    # payload keys become camelCase; metric names stay the user's own
    completed = [e for e in doc["recentEvents"] if e["type"] == "fl.round.completed"][-1]
    assert completed["payload"]["metrics"] == {"accuracy": 0.793, "loss": 0.45, "num_clients": 3.0}
    assert all("_" not in key for key in _keys(doc, skip={"metrics", "lastMetrics"}))


def _keys(value: object, *, skip: set[str]) -> list[str]:
    if isinstance(value, dict):
        found = []
        for key, inner in value.items():
            found.append(key)
            if key not in skip:
                found += _keys(inner, skip=skip)
        return found
    if isinstance(value, list):
        return [k for item in value for k in _keys(item, skip=skip)]
    return []


def test_unknown_name_exits_1_for_every_command(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = [
        cli(cmd, "nope", "--database-url", recorded) for cmd in ("status", "describe", "history")
    ]

    assert codes == [1, 1, 1]
    assert capsys.readouterr().err.count("'nope'") == 3


def test_yaml_is_the_json_document(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()
    assert cli("describe", "digits", "-o", "json", "--database-url", recorded) == 0
    as_json = json.loads(capsys.readouterr().out)
    assert cli("describe", "digits", "-o", "yaml", "--database-url", recorded) == 0
    as_yaml = yaml.safe_load(capsys.readouterr().out)

    assert as_yaml == as_json


@pytest.mark.parametrize("fmt", ["text", "markdown", "json", "yaml"])
def test_plan_outputs_match_golden_files(fmt: str) -> None:
    """The plan's text, markdown and json come from the plan renderers (their goldens are
    in tests/plan/golden); yaml is the CLI's, the json document in YAML."""
    from reconciler.cli.plan import render
    from tests.plan.test_plan_output import sample_plan

    rendered = render(sample_plan(), fmt)

    if fmt == "yaml":
        check_golden("plan.yaml", rendered)
        as_json = render(sample_plan(), "json")
        assert yaml.safe_load(rendered) == json.loads(as_json)
    else:
        golden = {"text": "plan.txt", "markdown": "plan.md", "json": "plan.json"}[fmt]
        assert rendered == (GOLDEN.parent.parent / "plan" / "golden" / golden).read_text()
