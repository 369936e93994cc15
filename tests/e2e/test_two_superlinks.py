"""Two Flower deployments driven by one daemon: each spec runs on the SuperLink it names.

Real `reconciler run` subprocess, PostgreSQL, Git remote, and two local SuperLinks with two
SuperNodes each. `--superlink` is the target "default" (the spec without `spec.target` goes
there) and `--flower-target us=...` a second one (the spec with `target: us`). Both reach
Completed, each run is in its own SuperLink's run list and nowhere else, the store and the
status report record each run's target, and `reconciler logs` reads each run's log from
its SuperLink.
"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest

from reconciler.model import DEFAULT_TARGET, FederationKey, Phase
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
    wait_for_remote_status,
)
from tests.source.gitutil import isolated_git

__all__ = ["isolated_git"]  # autouse: commits work, no global git config leaks in

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.flower,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(900),
]

ON_DEFAULT, ON_US = FederationKey("crash", "on-default"), FederationKey("crash", "on-us")


def spec(name: str, target: str | None) -> str:
    """The example on two SuperNodes, one round, its own checkpoints; `spec.target` if given."""
    text = spec_text(name, rounds=1).replace("minAvailable: 3", "minAvailable: 2")
    text = text.replace("prefix: digits-fedavg", f"prefix: {name}")
    if target is not None:
        text = text.replace("spec:\n  paused: false", f"spec:\n  target: {target}\n  paused: false")
    assert (
        f"prefix: {name}" in text
        and "minAvailable: 2" in text
        and (target is None or f"target: {target}" in text)
    )
    return text


def deployment(root: Path) -> LocalFlower:
    return LocalFlower(root, supernodes=2, progress_key=PROGRESS_SECRET.encode())


def test_two_superlinks_each_run_the_spec_that_names_them(tmp_path: Path) -> None:
    files = {
        spec_path(ON_DEFAULT.name): spec(ON_DEFAULT.name, None),
        spec_path(ON_US.name): spec(ON_US.name, "us"),
    }
    remote = seed_remote(tmp_path / "git", files)
    with database() as url, deployment(tmp_path / "a") as a, deployment(tmp_path / "b") as b:
        daemon = DaemonProcess(
            tmp_path / "daemon", repo=remote.url, superlink=a.address, database_url=url,
            port=free_port(),
        )  # fmt: skip
        daemon.args += ["--flower-target", f"us={b.address},insecure"]
        try:
            daemon.start()
            wait_for_phase(url, [ON_DEFAULT, ON_US], Phase.COMPLETED, 600, daemon)
            statuses = {
                key: wait_for_remote_status(remote, key, Phase.COMPLETED, 120)
                for key in (ON_DEFAULT, ON_US)
            }
        finally:
            daemon.stop()
        runs_on = {name: finished_runs(f.address) for name, f in (("a", a), ("b", b))}
        logs = {key: logs_of(key, url, a.address, b.address) for key in (ON_DEFAULT, ON_US)}
        with Store.connect(url) as store:
            recorded = {key: store.runs(key) for key in (ON_DEFAULT, ON_US)}
    assert runs_on["a"] == {(ON_DEFAULT, "completed")}, runs_on
    assert runs_on["b"] == {(ON_US, "completed")}, runs_on
    assert [r.target for r in recorded[ON_DEFAULT]] == [DEFAULT_TARGET]
    assert [r.target for r in recorded[ON_US]] == ["us"]
    assert statuses[ON_DEFAULT]["flowerTarget"] == DEFAULT_TARGET
    assert statuses[ON_US]["flowerTarget"] == "us"
    for key, (code, out, err) in logs.items():
        assert code == 0 and "round 1 done" in out, (key, err)


def finished_runs(address: str, timeout: float = 60.0) -> set[tuple[FederationKey, str]]:
    """The SuperLink's runs and how they ended, once none is still going: the ServerApp's
    last report reaches the daemon a moment before Flower marks its run finished."""
    runtime = FlowerRuntime(address)
    deadline = time.monotonic() + timeout
    try:
        while True:
            runs = runtime.observe()
            if all(o.status == "finished" for o in runs) or time.monotonic() > deadline:
                return {(o.key, o.sub_status) for o in runs}
            time.sleep(0.5)
    finally:
        runtime.close()


def logs_of(key: FederationKey, url: str, default: str, us: str) -> tuple[int, str, str]:
    done = subprocess.run(
        [sys.executable, "-m", "reconciler", "logs", str(key), "--database-url", url,
         "--superlink", default, "--flower-target", f"us={us},insecure"],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    return done.returncode, done.stdout, done.stderr
