"""The policy file: its schema errors read like spec errors, a tenant's entry replaces the
defaults field by field, and every command refuses to start on a broken one."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.specs.policy import DEFAULT_POLICY, TenantRules
from reconciler.specs.policyfile import PolicyInvalid, load_policy
from tests.support.policies import EXAMPLE_POLICY

HEAD = "apiVersion: thunderline.okocorp/v1\nkind: TenantPolicy\n"


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "policy.yaml"
    path.write_text(text)
    return path


def test_the_example_policy_loads_with_tenant_entries_over_the_defaults() -> None:
    policy = load_policy(EXAMPLE_POLICY)
    assert policy.defaults == TenantRules(max_rounds=200)
    acme = policy.rules_for("acme")
    assert (acme.own_apps, acme.max_concurrent, acme.max_rounds) == (True, 4, 200)
    assert policy.rules_for("initech") == policy.defaults  # no entry: the defaults
    assert policy.rules_for("globex").write == ("fl-checkpoints",)


def test_the_default_policy_is_the_safe_one() -> None:
    rules = DEFAULT_POLICY.rules_for("anyone")
    assert (rules.read, rules.strategies, rules.own_apps) == ((), (), False)


@pytest.mark.parametrize(
    ("text", "where", "message"),
    [
        (HEAD + "tenants:\n  acme:\n    ownApp: true\n", ":5:5: tenants.acme.ownApp", "ownApps"),
        (
            HEAD + "tenants:\n  acme:\n    strategies: [os.system]\n",
            ":5:18: tenants.acme.strategies[0]",
            "import path package.module:Class",
        ),
        (HEAD + "tenants:\n  Acme_Corp: {}\n", ":4:3: tenants", "Acme_Corp"),
        (HEAD + "defaults:\n  maxRounds: 0\n", ":4:14: defaults.maxRounds", ">= 1"),
        (HEAD + "defaults:\n  read: ['http://x/']\n", ":4:10: defaults.read[0]", "http://x/"),
        ("kind: TenantPolicy\n", ":1:1: apiVersion", "required"),
        (HEAD + "defaults: [\n", ":", ""),  # broken YAML
    ],
)
def test_a_broken_policy_names_file_line_and_field(
    tmp_path: Path, text: str, where: str, message: str
) -> None:
    path = write(tmp_path, text)
    with pytest.raises(PolicyInvalid) as caught:
        load_policy(path)
    shown = [str(p) for p in caught.value.problems]
    assert any(s.startswith(path.as_posix() + where) and message in s for s in shown), shown


@pytest.mark.parametrize("command", ["validate", "plan"])
def test_commands_refuse_a_broken_policy_with_exit_2(
    command: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "specs").mkdir()
    path = write(tmp_path, HEAD + "tenants:\n  acme:\n    maxRounds: lots\n")
    assert main([command, str(tmp_path), "--policy", str(path)]) == 2
    err = capsys.readouterr().err
    assert "the tenant policy is invalid" in err
    assert f"{path.as_posix()}:5:16: tenants.acme.maxRounds" in err


def test_a_missing_policy_file_is_an_error_not_the_default(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (tmp_path / "specs").mkdir()
    assert main(["validate", str(tmp_path), "--policy", str(tmp_path / "nope.yaml")]) == 2
    assert "cannot read" in capsys.readouterr().err


def test_the_policy_comes_from_the_environment_when_no_flag_is_given(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    spec = tmp_path / "specs" / "acme" / "big.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_text(
        (Path(__file__).parents[1] / "specs/corpus/valid/minimal.yaml")
        .read_text()
        .replace("name: minimal", "name: big")
        .replace("total: 1", "total: 500")
    )
    assert main(["validate", str(tmp_path)]) == 0
    monkeypatch.setenv("THUNDERLINE_POLICY", str(EXAMPLE_POLICY))
    assert main(["validate", str(tmp_path)]) == 1
    assert "500 rounds exceeds the limit of 200 for tenant 'acme'" in capsys.readouterr().out
