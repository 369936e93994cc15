"""`validate` and `plan` check a spec against its app's pyproject, with file and line."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.model import FederationSpec
from reconciler.plan import ActionKind, plan
from reconciler.plan.render import describe, to_text
from reconciler.specs import load_repo
from reconciler.specs.apps import AppManifestError, parse_manifest
from tests.byoapp.apprepo import APPS, app_spec, make_app_repo
from tests.support.policies import EXAMPLE_POLICY, OPEN_POLICY

PATH = "specs/acme/quickstart.yaml"


def problems(root: Path) -> list[str]:
    state = load_repo(root, policy=OPEN_POLICY)
    return [str(p) for found in state.problems.values() for p in found]


def test_the_example_app_specs_are_valid(tmp_path: Path) -> None:
    root = make_app_repo(
        tmp_path,
        {
            "quickstart": app_spec(),
            "sdk": app_spec("sdk", "sdk-numpy", extra="  paused: true\n"),
        },
    )
    assert problems(root) == []


def test_an_unknown_config_key_is_an_error_at_its_line(tmp_path: Path) -> None:
    config = "num-server-rounds: 2\nlearning-rate: 0.05\nlearning_rate: 0.05"
    root = make_app_repo(tmp_path, {"quickstart": app_spec(config=config)})
    [problem] = problems(root)
    assert problem.startswith(f"{PATH}:12:22: spec.app.config.learning_rate: 'learning_rate' is")
    assert "not a run-config key of app apps/quickstart-numpy" in problem
    assert "learning-rate, local-epochs" in problem  # the keys it does declare


def test_validate_cli_reports_it_like_a_compiler(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    root = make_app_repo(tmp_path, {"quickstart": app_spec(config="num-server-rounds: 2\nlr: 1")})
    assert main(["validate", str(root), "--output", "json", "--policy", str(EXAMPLE_POLICY)]) == 1
    [problem] = json.loads(capsys.readouterr().out)["problems"]
    assert (problem["line"], problem["field"]) == (11, "spec.app.config.lr")


def test_a_config_value_of_another_type_than_the_app_declares_is_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = 'num-server-rounds: "2"\nlocal-epochs: 20\nlearning-rate: 1'  # int for float: fine
    root = make_app_repo(tmp_path, {"quickstart": app_spec(config=config)})
    [problem] = problems(root)
    assert problem == (
        f"{PATH}:10:26: spec.app.config.num-server-rounds: 'num-server-rounds' is declared as "
        "an integer by app apps/quickstart-numpy (default 3), but the spec gives a string ('2')"
    )
    assert main(["validate", str(root), "--policy", str(EXAMPLE_POLICY)]) == 1
    assert f"{PATH}:10:26:" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("entry", "declared", "given"),
    [
        pytest.param("learning-rate: true", "a float", "a boolean (True)", id="bool for float"),
        pytest.param("local-epochs: 2.5", "an integer", "a float (2.5)", id="float for int"),
        pytest.param('local-epochs: "20"', "an integer", "a string ('20')", id="str for int"),
    ],
)
def test_config_types_that_do_not_convert(
    tmp_path: Path, entry: str, declared: str, given: str
) -> None:
    config = f"num-server-rounds: 2\n{entry}"
    root = make_app_repo(tmp_path, {"quickstart": app_spec(config=config)})
    [problem] = problems(root)
    assert f"is declared as {declared} by app" in problem
    assert f"but the spec gives {given}" in problem


def test_the_control_key_is_the_reconcilers(tmp_path: Path) -> None:
    config = 'num-server-rounds: 2\nthunderline-control: "{}"'
    root = make_app_repo(tmp_path, {"sdk": app_spec("sdk", "sdk-numpy", config=config)})
    [problem] = problems(root)
    assert "spec.app.config.thunderline-control: set by the reconciler" in problem


def test_rounds_must_agree_with_the_apps_round_count(tmp_path: Path) -> None:
    root = make_app_repo(tmp_path, {"quickstart": app_spec(rounds=5)})
    [problem] = problems(root)
    assert problem.startswith(f"{PATH}:14:12: spec.rounds.total: app apps/quickstart-numpy runs")


def test_pause_is_refused_for_an_app_without_the_sdk(tmp_path: Path) -> None:
    root = make_app_repo(tmp_path, {"quickstart": app_spec(extra="  paused: true\n")})
    [problem] = problems(root)
    assert "spec.paused: app apps/quickstart-numpy does not use the control SDK" in problem
    [action] = plan(load_repo(root, policy=OPEN_POLICY), {}).actions
    assert action.kind is ActionKind.INVALID
    assert "cannot pause at a round boundary" in action.problems[0].message


def test_plan_says_which_app_a_federation_runs_instead_of_shards(tmp_path: Path) -> None:
    root = make_app_repo(tmp_path, {"quickstart": app_spec()})
    state = load_repo(root, policy=OPEN_POLICY)
    text = to_text(plan(state, {}))
    assert "2 rounds, fedavg, app apps/quickstart-numpy" in text
    assert "shard" not in text
    [spec] = state.specs.values()
    app = {"uri": "s3://alice:hunter2@team-apps/q.fab", "sha256": "0" * 64}
    document = {**spec.document, "spec": {**spec.document["spec"], "app": app}}
    described = describe(FederationSpec(spec.key, spec.path, document))
    assert described == "2 rounds, fedavg, app s3://team-apps/q.fab"  # no credentials


def test_an_app_folder_without_a_flower_pyproject_is_an_error(tmp_path: Path) -> None:
    root = make_app_repo(tmp_path, {"quickstart": app_spec()})
    pyproject = root / "apps/quickstart-numpy/pyproject.toml"
    pyproject.write_text(pyproject.read_text().replace('clientapp = "', 'client = "'))
    [problem] = problems(root)
    assert "spec.app.path: apps/quickstart-numpy/pyproject.toml is not a Flower app" in problem
    assert "missing [tool.flwr.app.components] clientapp" in problem


def test_a_missing_app_folder_is_an_error(tmp_path: Path) -> None:
    root = make_app_repo(tmp_path, {"quickstart": app_spec(app="no-such-app")})
    [problem] = problems(root)
    assert "spec.app.path: apps/no-such-app is not a folder in this repository" in problem


def test_a_team_app_needs_no_model_or_data_but_the_built_in_app_does(tmp_path: Path) -> None:
    builtin = app_spec("builtin").replace("  app:\n    path: apps/quickstart-numpy\n", "")
    builtin = builtin.replace("    config:\n      num-server-rounds: 2\n", "")
    root = make_app_repo(tmp_path, {"builtin": builtin, "quickstart": app_spec()})
    assert sorted(p.split(": ")[1] for p in problems(root)) == ["spec.datasetSpec", "spec.modelRef"]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        pytest.param("[project\n", "not valid TOML", id="not toml"),
        pytest.param('[project]\nname = "x"\n', "missing [project] version", id="no version"),
        pytest.param(
            '[project]\nname = "x"\nversion = "1"\n[tool.flwr.app]\npublisher = "p"\nconfig = 3\n'
            '[tool.flwr.app.components]\nserverapp = "a:b"\nclientapp = "a:c"\n',
            "[tool.flwr.app.config] must be a table",
            id="config not a table",
        ),
    ],
)
def test_manifest_problems(text: str, message: str) -> None:
    with pytest.raises(AppManifestError, match=message.replace("[", r"\[")):
        parse_manifest(text, where="apps/x")


def test_nested_config_tables_become_dotted_keys_as_in_flower() -> None:
    text = (
        APPS / "quickstart-numpy/pyproject.toml"
    ).read_text() + "\n[tool.flwr.app.config.opt]\nlr = 1\n"
    manifest = parse_manifest(text, where="apps/q")
    assert manifest.config["opt.lr"] == 1
    assert not manifest.controlled
    assert parse_manifest((APPS / "sdk-numpy/pyproject.toml").read_text(), where="s").controlled


def test_the_example_app_specs_validate_in_a_repository_laid_out_as_documented(
    tmp_path: Path,
) -> None:
    specs = {p.stem: p.read_text() for p in (APPS.parent / "app-specs" / "acme").glob("*.yaml")}
    assert sorted(specs) == ["quickstart-numpy", "sdk-numpy"]
    root = make_app_repo(tmp_path, specs)
    assert problems(root) == []
    assert main(["validate", str(root), "--policy", str(EXAMPLE_POLICY)]) == 0
