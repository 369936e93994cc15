"""The pre-commit hook this repository offers (.pre-commit-hooks.yaml at its root) and the
example configuration for spec repositories: both load with pre-commit's own schema, the
hook selects spec files only, and its entry run the way pre-commit runs it (changed files
as arguments, from the repository root) passes valid specs and stops invalid ones."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.deploy.artefacts import DEPLOY, ROOT


def hook() -> dict[str, Any]:
    from pre_commit.clientlib import load_manifest

    hooks = load_manifest(str(ROOT / ".pre-commit-hooks.yaml"))
    assert [h["id"] for h in hooks] == ["reconciler-validate"]
    return hooks[0]  # type: ignore[no-any-return]


def run_hook(repo: Path, files: list[str]) -> subprocess.CompletedProcess[str]:
    entry = shlex.split(hook()["entry"])
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}"}
    return subprocess.run(
        [*entry, *hook()["args"], *files],
        cwd=repo, env=env, capture_output=True, text=True, timeout=60, check=False,
    )  # fmt: skip


@pytest.fixture
def spec_repo(tmp_path: Path) -> Path:
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    return tmp_path


def test_the_hook_is_a_python_hook_whose_entry_is_the_installed_command() -> None:
    h = hook()
    scripts = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]["scripts"]

    assert h["language"] == "python"  # pre-commit installs this repository with pip
    assert shlex.split(h["entry"]) == ["reconciler", "validate"]
    assert "reconciler" in scripts
    assert h["pass_filenames"] is True


@pytest.mark.parametrize(
    ("path", "selected"),
    [
        ("specs/acme/digits-fedavg.yaml", True),
        ("specs/acme/digits-fedavg.yml", True),
        ("specs/README.md", False),
        ("status/acme/digits-fedavg.yaml", False),  # the daemon's reports are not specs
        ("schema/federation-spec.schema.json", False),
        ("examples/specs/acme/x.yaml", False),
    ],
)
def test_the_hook_selects_spec_files_only(path: str, selected: bool) -> None:
    h = hook()

    assert bool(re.search(h["files"], path) and not re.search(h["exclude"], path)) is selected


def test_changed_valid_specs_pass(spec_repo: Path) -> None:
    result = run_hook(spec_repo, ["specs/acme/digits-fedavg.yaml", "specs/globex/digits-dp.yaml"])

    assert result.returncode == 0, result.stdout + result.stderr


def test_an_invalid_changed_spec_stops_the_commit_and_names_the_line(spec_repo: Path) -> None:
    bad = spec_repo / "specs" / "acme" / "digits-fedprox.yaml"
    bad.write_text(bad.read_text().replace("total: 5", "total: 0"))

    result = run_hook(
        spec_repo, ["specs/acme/digits-fedavg.yaml", "specs/acme/digits-fedprox.yaml"]
    )

    assert result.returncode == 1
    assert re.search(
        r"^specs/acme/digits-fedprox\.yaml:\d+:\d+: spec\.rounds\.total", result.stdout, re.M
    )
    assert "digits-fedavg.yaml:" not in result.stdout


def test_the_example_config_uses_this_hook() -> None:
    from pre_commit.clientlib import load_config

    config = load_config(str(DEPLOY / "ci" / ".pre-commit-config.yaml"))

    assert [h["id"] for repo in config["repos"] for h in repo["hooks"]] == [hook()["id"]]
