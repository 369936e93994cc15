"""`reconciler <read command> | head`: the reader leaving early is no traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from reconciler.cli import EXIT_PIPE_CLOSED
from reconciler.model import FederationKey
from reconciler.store import Store

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.pg


@pytest.fixture
def many_events(recorded: str) -> str:
    """Enough events (~200 kB of output) to outgrow a pipe's 64 kB buffer."""
    with Store.connect(recorded) as store:
        key = FederationKey("acme", "digits")
        for n in range(1500):
            store.client_joined(key, 2, f"node-{n}")
    return recorded


@pytest.mark.parametrize(
    "command", [["events"], ["events", "-o", "json"], ["events", "-o", "yaml"]]
)
def test_head_closing_the_pipe_ends_quietly(many_events: str, command: list[str]) -> None:
    argv = [sys.executable, "-m", "reconciler", *command, "--database-url", many_events]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    with subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env) as cli:
        assert cli.stdout is not None and cli.stderr is not None
        first = cli.stdout.readline()
        cli.stdout.close()  # what `head -1` does after its line
        err = cli.stderr.read().decode()
        code = cli.wait(timeout=60)

    assert first
    assert err == ""
    assert code == EXIT_PIPE_CLOSED
