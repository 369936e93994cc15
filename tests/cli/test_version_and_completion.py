"""`reconciler version`, `--version` and `completion bash|zsh|fish`."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler import __version__
from tests.cli.conftest import cli

ROOT = Path(__file__).resolve().parents[2]


def test_version_flag_and_command_agree(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        cli("--version")
    flag = capsys.readouterr().out
    assert cli("version") == 0

    assert exited.value.code == 0
    assert flag == capsys.readouterr().out == f"reconciler {__version__}\n"


def test_version_json_names_flower_and_python(capsys: pytest.CaptureFixture[str]) -> None:
    assert cli("version", "-o", "json") == 0

    doc = json.loads(capsys.readouterr().out)
    assert doc["reconciler"] == __version__
    assert doc["flower"].startswith("1.42.")
    assert doc["python"] == ".".join(map(str, sys.version_info[:3]))


@pytest.mark.parametrize(
    ("shell", "marker"),
    [("bash", "complete "), ("zsh", "compdef"), ("fish", "complete --command reconciler")],
)
def test_completion_script_for_each_shell(
    shell: str, marker: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("completion", shell) == 0

    script = capsys.readouterr().out
    assert marker in script and "reconciler" in script


def _complete(line: str, tmp_path: Path) -> list[str]:
    """Ask the installed command for completions the way the scripts do."""
    answer = tmp_path / "answer"
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "_ARGCOMPLETE": "1",
        "_ARGCOMPLETE_IFS": "\n",
        "COMP_LINE": line,
        "COMP_POINT": str(len(line)),
        "_ARGCOMPLETE_STDOUT_FILENAME": str(answer),
    }
    subprocess.run([sys.executable, "-m", "reconciler"], env=env, check=True, timeout=60, cwd=ROOT)
    return [word.strip() for word in answer.read_text().split("\n")]


def test_completion_offers_commands_and_flags(tmp_path: Path) -> None:
    assert _complete("reconciler st", tmp_path) == ["status"]
    assert set(_complete("reconciler de", tmp_path)) == {"demo", "describe"}
    assert _complete("reconciler plan --ag", tmp_path) == ["--against"]
    assert set(_complete("reconciler status -o ", tmp_path)) == {"text", "wide", "json", "yaml"}
