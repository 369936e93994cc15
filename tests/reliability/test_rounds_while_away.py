"""A federation that runs to its end while the daemon is down loses no round.

Real `reconciler run` subprocess, real PostgreSQL, real Git remote, a real local SuperLink
with three SuperNodes. The daemon is SIGKILLed once the ServerApp has reported a round; the
run goes on, keeps what it cannot deliver, and at its end leaves it sealed next to its
checkpoints. The restarted daemon finds the run finished and records everything it missed:
every round completed with its checkpoint, one completion, one Flower run, no recovery.
"""

from __future__ import annotations

import signal
import time
from collections import Counter
from pathlib import Path

import pytest

from reconciler.model import FederationKey, Phase
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import LocalFlower, free_port
from reconciler.store import Store
from tests.reliability.harness import (
    PROGRESS_SECRET,
    DaemonProcess,
    database,
    seed_remote,
    spec_path,
    spec_text,
    wait_for_phase,
)
from tests.source.gitutil import isolated_git

__all__ = ["isolated_git"]  # autouse: commits work, no global git config leaks in

pytestmark = [
    pytest.mark.flower,
    pytest.mark.e2e,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(900),
]

ROUNDS = 4
KEY = FederationKey("crash", "away")


def patient(spec: str) -> str:
    """The spec with rounds that may take 10 minutes: on a loaded 2-core machine a round of
    three fresh ClientApp processes can take longer than the example's 120 s."""
    return spec.replace("timeoutSeconds: 120", "timeoutSeconds: 600")


def wait_until_finished(superlink: str, timeout: float) -> str:
    """The run's Flower status once it finished (the daemon is down meanwhile)."""
    runtime = FlowerRuntime(superlink)
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            runs = [r for r in runtime.observe() if r.key == KEY]
            if runs and all(r.finished for r in runs):
                return ",".join(f"{r.status}:{r.sub_status}" for r in runs)
            time.sleep(1)
    finally:
        runtime.close()
    raise AssertionError(f"the run of {KEY} did not finish in {timeout:.0f} s")


def test_rounds_run_while_the_daemon_is_down_are_all_recorded(
    tmp_path: Path,
) -> None:
    remote = seed_remote(
        tmp_path / "git", {spec_path(KEY.name): patient(spec_text(KEY.name, rounds=ROUNDS))}
    )
    with (
        LocalFlower(
            tmp_path / "flower", supernodes=3, progress_key=PROGRESS_SECRET.encode()
        ) as flower,
        database() as url,
    ):
        daemon = DaemonProcess(
            tmp_path / "daemon",
            repo=remote.url,
            superlink=flower.address,
            database_url=url,
            port=free_port(),
        )
        try:
            # Prepare: the federation reports its first round, then the daemon dies.
            daemon.start()
            wait_for_phase(url, [KEY], Phase.RUNNING, 300, daemon)
            daemon.stop(signal.SIGKILL)
            # Execute: the run ends while nobody listens; then the daemon comes back.
            ended = wait_until_finished(flower.address, 400)
            daemon.start()
            wait_for_phase(url, [KEY], Phase.COMPLETED, 300, daemon)
        finally:
            daemon.stop()
        with Store.connect(url) as store:
            record, rounds = store.get(KEY), store.rounds(KEY)
            artifacts, runs = store.artifacts(KEY), store.runs(KEY)
            events = Counter(e.type for e in store.events(limit=100_000) if e.key == KEY)
    # Assert
    assert ended == "finished:completed"
    assert (record.attempt, record.recoveries, record.current_round) == (1, 0, ROUNDS)
    assert [(r.number, r.status) for r in rounds] == [(n, "completed") for n in range(1, 5)]
    assert all(r.metrics for r in rounds)
    assert [a.round for a in artifacts] == list(range(1, ROUNDS + 1))
    assert len(runs) == 1
    assert events["fl.round.completed"] == ROUNDS
    assert events["fl.aggregate.completed"] == ROUNDS
    assert events["fl.federation.completed"] == 1
    assert "were recorded from the artifact store" in daemon.log()
