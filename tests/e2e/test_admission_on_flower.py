"""Admission on real Flower: six federations pushed at once onto three SuperNodes that are not
there yet, with `--max-running 2`.

Real `reconciler run` subprocess, PostgreSQL, Git remote, and a local SuperLink whose
SuperNodes start only after the specs are recorded. Before they connect every federation
is Pending with `SuperNodesShort`; after, never more than two run at once, all complete, and
they start in the documented queue order: the priority-5 one first, then by the time they
were queued (here by name: one cycle queued them all, in plan order).
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from reconciler.model import FederationKey, Phase
from reconciler.runtime.local import LocalFlower, free_port
from reconciler.store import Store
from tests.reliability.harness import (
    PROGRESS_SECRET,
    DaemonProcess,
    database,
    recorded,
    seed_remote,
    spec_path,
    spec_text,
    wait_for_phase,
    wait_for_remote_status,
)
from tests.source.gitutil import isolated_git

__all__ = ["isolated_git"]  # autouse: commits work, no global git config leaks in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.flower,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(1500),
]

NAMES = [f"q{i}" for i in range(6)]
KEYS = [FederationKey("crash", n) for n in NAMES]
URGENT = "q5"  # priority 5: starts first although its name sorts last
QUEUE_ORDER = [URGENT, *NAMES[:-1]]
SLOTS = 2
_HOLDING = (Phase.STARTING, Phase.RUNNING, Phase.PAUSED)


def spec(name: str) -> str:
    text = spec_text(name, rounds=1).replace("timeoutSeconds: 120", "timeoutSeconds: 600")
    if name == URGENT:
        text = text.replace("spec:\n  paused: false", "spec:\n  priority: 5\n  paused: false")
    assert name != URGENT or "priority: 5" in text
    return text


def test_six_federations_on_three_late_supernodes_start_two_at_a_time_in_queue_order(
    tmp_path: Path,
) -> None:
    remote = seed_remote(tmp_path / "git", {spec_path(n): spec(n) for n in NAMES})
    flower = LocalFlower(tmp_path / "flower", supernodes=3, progress_key=PROGRESS_SECRET.encode())
    flower.workdir.mkdir(parents=True)
    with database() as url:
        daemon = DaemonProcess(
            tmp_path / "daemon",
            repo=remote.url,
            superlink=flower.address,
            database_url=url,
            port=free_port(),
        )
        daemon.args += ["--max-running", str(SLOTS)]
        try:
            flower.start_superlink()  # no SuperNode yet
            daemon.start()
            wait_for_phase(url, KEYS, Phase.PENDING, 300, daemon, attempt=0)
            waiting = wait_for_remote_status(remote, KEYS[0], Phase.PENDING, 240)
            for index in range(flower.supernodes):
                flower.start_supernode(index)
            most, started = watch_until_completed(url, daemon, timeout=1200)
        finally:
            daemon.stop()
            flower.stop()
        with Store.connect(url) as store:
            events = store.events(limit=100_000)
    short = {c["type"]: c for c in waiting["conditions"]}["SuperNodesShort"]
    assert short["status"] == "True" and "0 of 3 needed online" in short["message"]
    assert most <= SLOTS
    start_events = [e.key.name for e in events if e.type == "fl.federation.started" and e.key]
    assert sorted(start_events) == sorted(NAMES)  # one start each, no recovery
    # Started in queue order; within one cycle apply goes in plan order, hence one slot of
    # slack: the first k starts are among the first k + 1 of the queue.
    for k in range(1, len(started) + 1):
        assert set(started[:k]) <= set(QUEUE_ORDER[: k + 1]), started


def watch_until_completed(
    url: str, daemon: DaemonProcess, *, timeout: float
) -> tuple[int, list[str]]:
    """Poll the database until every federation completed: the most that held a slot at
    once, and the order in which they left Pending."""
    deadline = time.monotonic() + timeout
    most, started = 0, []
    while time.monotonic() < deadline and daemon.alive():
        records = recorded(url)
        most = max(most, sum(1 for k in KEYS if k in records and records[k].phase in _HOLDING))
        for key in KEYS:
            record = records.get(key)
            left_pending = record is not None and record.phase is not Phase.PENDING
            if left_pending and key.name not in started:
                started.append(key.name)
        if all(k in records and records[k].phase is Phase.COMPLETED for k in KEYS):
            return most, started
        failed = [k.name for k in KEYS if k in records and records[k].phase is Phase.FAILED]
        assert not failed, f"failed: {failed}: {[records[k].reason for k in KEYS]}"
        time.sleep(0.3)
    raise AssertionError(f"not all completed: {started}\n{daemon.log()[-6000:]}")
