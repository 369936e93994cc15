"""Two `reconciler run` replicas on one database: exactly one acts, and when it is killed the
other takes over within 30 s without doing anything twice.

Real processes, a real SuperLink (no SuperNodes: runs are submitted and counted, they need
not train), real PostgreSQL and Git. The failover time is measured from the leader's
SIGKILL to the standby answering /readyz as leader, and printed.
"""

from __future__ import annotations

import signal
import time
import urllib.request
from collections import Counter
from pathlib import Path

import psycopg
import pytest

from reconciler.model import FederationKey, Phase
from reconciler.runtime.local import LocalFlower, free_port
from reconciler.store import Store
from tests.reliability.harness import (
    PROGRESS_SECRET,
    DaemonProcess,
    database,
    readyz_role,
    seed_remote,
    spec_path,
    spec_text,
    wait_for_phase,
)
from tests.source.gitutil import isolated_git

__all__ = ["isolated_git"]

PROGRESS_KEY = PROGRESS_SECRET.encode()  # the replicas' key, given to the SuperLink

pytestmark = [pytest.mark.flower, pytest.mark.pg, pytest.mark.git, pytest.mark.timeout(300)]

KEY = FederationKey("replicas", "shared")
FAILOVER_LIMIT = 30.0


def leader_gauge(daemon: DaemonProcess) -> str:
    with urllib.request.urlopen(f"{daemon.url}/metrics", timeout=5) as response:
        lines = response.read().decode().splitlines()
    return next(line.split()[-1] for line in lines if line.startswith("thunderline_leader "))


def wait_roles(a: DaemonProcess, b: DaemonProcess, timeout: float = 90) -> tuple[str, str]:
    deadline = time.monotonic() + timeout
    roles = (readyz_role(a), readyz_role(b))
    while time.monotonic() < deadline and sorted(roles) != ["leader", "standby"]:
        time.sleep(0.3)
        roles = (readyz_role(a), readyz_role(b))
    return roles


def one_node(spec: str) -> str:
    return spec.replace("minAvailable: 3", "minAvailable: 1")


def recorded_cycles(url: str) -> int:
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM reconcile_cycles").fetchone()
    return int(row[0]) if row else 0


def test_one_replica_acts_and_the_other_takes_over_within_30_s(tmp_path: Path) -> None:
    remote = seed_remote(tmp_path / "git", {spec_path(KEY.name, KEY.tenant): one_node(spec_text(
        KEY.name, tenant=KEY.tenant, rounds=30))})  # fmt: skip
    # One SuperNode: the start is admitted (minAvailable 1) and the long run is still going
    # when the spec changes, so the new leader updates it in place.
    flower = LocalFlower(tmp_path / "flower", supernodes=1, progress_key=PROGRESS_KEY)
    with flower, database() as url:
        replicas = [
            DaemonProcess(
                tmp_path / name,
                repo=remote.url,
                superlink=flower.address,
                database_url=url,
                port=free_port(),
                leader_election=True,
                interval=2,
            )
            for name in ("a", "b")
        ]
        try:
            for replica in replicas:
                replica.start()
            roles = wait_roles(*replicas)
            assert sorted(roles) == ["leader", "standby"], roles
            leader, standby = sorted(replicas, key=lambda r: readyz_role(r) != "leader")
            assert (leader_gauge(leader), leader_gauge(standby)) == ("1.0", "0.0")
            wait_for_phase(url, [KEY], Phase.STARTING, 120, leader)

            leader.stop(signal.SIGKILL)
            killed_at = time.monotonic()
            while readyz_role(standby) != "leader" and time.monotonic() - killed_at < 60:
                time.sleep(0.1)
            failover = time.monotonic() - killed_at
            print(f"\nfailover: standby leads {failover:.1f} s after the leader's SIGKILL")
            assert failover < FAILOVER_LIMIT

            before = recorded_cycles(url)
            remote.commit(
                {
                    spec_path(KEY.name, KEY.tenant): one_node(
                        spec_text(KEY.name, tenant=KEY.tenant, rounds=31)
                    )
                },
                "one more round",
            )
            deadline = time.monotonic() + 90
            while time.monotonic() < deadline:
                with Store.connect(url) as store:
                    if store.get(KEY).generation == 2:
                        break
                time.sleep(0.5)
            leader.start()  # the old leader comes back as a standby
            assert wait_roles(standby, leader)[0] == "leader"
            assert recorded_cycles(url) > before  # the new leader works
        finally:
            for replica in replicas:
                replica.stop()
        with Store.connect(url) as store:
            events = Counter((e.type, e.generation) for e in store.events(federation=KEY))
            record = store.get(KEY)
        runtime = flower.runtime()
        runs = Counter((r.generation, r.attempt) for r in runtime.observe() if r.key == KEY)
        runtime.close()
    assert record.generation == 2
    assert runs == {(1, 1): 1}  # one run, started once, taken over, updated in place
    assert events[("fl.federation.created", 1)] == 1
    assert events[("fl.federation.started", 1)] == 1
    assert events[("fl.federation.updated", 2)] == 1
