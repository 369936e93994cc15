"""The crash scenarios: kill at one point, restart, and collect what every part then holds.

`run_scenario` seeds a remote with the scenario's federations, starts `reconciler run` with
THUNDERLINE_FAULT set to the kill point, waits for it to die by SIGKILL, restarts it without
the fault and waits until every federation is in one of the scenario's `converge` phases,
with its generation observed: launched (Starting, or Running once its app reported a round)
for most; Running (the ServerApp reported a round to the restarted daemon) where a progress
report is the point; and until its status report on the remote says the same. Then it stops the daemon and
the runs, and returns an `Outcome`; the assertions live in the test module.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.model import FederationKey, Phase, RecordedFederation, RunObservation
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import free_port
from reconciler.store import Store
from reconciler.store.records import Event
from tests.reliability.harness import (
    DaemonProcess,
    database,
    killed,
    seed_remote,
    spec_path,
    spec_text,
    wait_for_phase,
    wait_for_remote_status,
)

TENANT = "crash"
# Submitted and recorded, maybe reporting. On a quiet machine the 3-round run can finish while
# the daemon is still down; its reports are then lost and the planner completes it from
# Flower's run status (`=`): Completed is converged too (found by a clean-clone CI run).
LAUNCHED = frozenset({Phase.STARTING, Phase.RUNNING, Phase.COMPLETED})


@dataclass(frozen=True)
class Scenario:
    id: str
    point: str  # the kill point (reconciler.faults.KILL_POINTS)
    names: tuple[str, ...]  # federations in the repository; two or more start in bulk
    replace: bool = False  # the kill happens while a running federation is replaced
    in_flower: bool = False  # the fault fires in the Flower app's process, not the daemon's
    converge: frozenset[Phase] = LAUNCHED  # where every federation must be after the restart

    @property
    def keys(self) -> list[FederationKey]:
        return [FederationKey(TENANT, n) for n in self.names]


@dataclass
class Outcome:
    scenario: Scenario
    died: bool = False
    converge_seconds: float = 0.0  # kill -> every federation back in the converge phase
    records: dict[FederationKey, RecordedFederation] = field(default_factory=dict)
    events: list[Event] = field(default_factory=list)
    runs: list[RunObservation] = field(default_factory=list)
    statuses: dict[FederationKey, dict[str, object]] = field(default_factory=dict)
    log: str = ""
    error: str = ""  # what went wrong running the scenario itself, with its traceback

    def events_of(self, key: FederationKey, prefix: str = "") -> list[Event]:
        return [e for e in self.events if e.key == key and e.type.startswith(prefix)]


def run_scenario(s: Scenario, superlink: str, root: Path, marker: Path) -> Outcome:
    """Run one scenario; a failure to run it is kept in `Outcome.error`, not raised, so
    that one broken scenario does not hide the results of the others."""
    try:
        return _run(s, superlink, root, marker)
    except Exception:
        return Outcome(s, error=traceback.format_exc())


def _run(s: Scenario, superlink: str, root: Path, marker: Path) -> Outcome:
    work = root / s.id
    remote = seed_remote(
        work / "git", {spec_path(n, TENANT): spec_text(n, rounds=3) for n in s.names}
    )
    outcome = Outcome(s)
    with database() as url:
        daemon = DaemonProcess(
            work / "daemon",
            repo=remote.url,
            superlink=superlink,
            database_url=url,
            port=free_port(),
        )
        try:
            if s.replace:
                daemon.start()
                wait_for_phase(url, s.keys, Phase.STARTING, 240, daemon)
                daemon.stop()
                changed = {spec_path(n, TENANT): spec_text(n, rounds=3, seed=7) for n in s.names}
                remote.commit(changed, "a new seed: replace the running federation")
            if s.in_flower:
                daemon.start()
                outcome.died = _wait_for(marker, 240)
                began = time.monotonic()
            else:
                daemon.start(fault=s.point)
                outcome.died = killed(daemon.wait(timeout=240))
                began = time.monotonic()
                if outcome.died:
                    daemon.start()
            if outcome.died:
                generation, attempt = (2 if s.replace else 1), (2 if s.in_flower else 1)
                wait_for_phase(
                    url, s.keys, s.converge, 300, daemon, generation=generation, attempt=attempt
                )
                for key in s.keys:
                    outcome.statuses[key] = wait_for_remote_status(
                        remote, key, s.converge, 240, generation=generation
                    )
                outcome.converge_seconds = time.monotonic() - began
        finally:
            daemon.stop()
            outcome.log = daemon.log()
        with Store.connect(url) as store:
            outcome.records = store.load_recorded()
            outcome.events = store.events(limit=100_000)
    runtime = FlowerRuntime(superlink)
    try:
        outcome.runs = [r for r in runtime.observe() if r.key in s.keys]
        for run in outcome.runs:  # free the SuperNodes for the other scenarios
            if not run.finished:
                runtime.stop(run.run_id)
    finally:
        runtime.close()
    return outcome


def _wait_for(path: Path, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if path.exists():
            return True
        time.sleep(0.5)
    return False
