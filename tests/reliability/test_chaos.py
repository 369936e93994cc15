"""The short form of `make chaos`, so the fault suite cannot rot: every scenario once, five
daemon kills, small federations, as a user runs it (a subprocess, its exit status).

The driver (tests/reliability/chaos.py) exits 0 only when every promise held: one Flower
run per attempt, no event lost or duplicated, no round lost, at most one round redone per
recovery, every fault converged, and each daemon's new connections a minute flat.
"""

from __future__ import annotations

import subprocess
import sys

import pytest

from tests.reliability.harness import PROJECT

pytestmark = [
    pytest.mark.flower,
    pytest.mark.e2e,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(960),
]

SHORT = ["--kills", "5", "--federations", "2", "--rounds", "2", "--window", "20",
         "--settle", "2", "--converge-timeout", "180", "--max-gap", "4",
         "--deadline", "840"]  # fmt: skip


def test_the_short_chaos_run_keeps_every_promise() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "tests.reliability.chaos", *SHORT],
        cwd=PROJECT,
        capture_output=True,
        text=True,
        timeout=920,
        check=False,
    )
    print(done.stdout)
    assert done.returncode == 0, done.stdout[-6000:] + done.stderr[-4000:]
    assert "chaos: all promises kept" in done.stdout
