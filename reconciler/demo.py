"""`make demo`: the whole product on embedded defaults, end to end, in one command.

Seeds a local Git remote with the example specs and data, starts the embedded PostgreSQL
(a fresh database), a local Flower runtime (SuperLink + 3 SuperNodes) and the daemon, shows
each federation's progress round by round, and ends with the final status, the status
report committed to the repository, and each checkpoint's path and sha256. Everything it
started is stopped when it ends, also on Ctrl-C.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from reconciler.cli.common import DEMO_DATABASE, DEMO_LOGS
from reconciler.cli.status import format_metrics
from reconciler.daemon.assemble import real_parts
from reconciler.daemon.main import configure_logging
from reconciler.daemon.service import Daemon
from reconciler.model import Phase
from reconciler.runtime.base import Runtime
from reconciler.settings import (
    STATE_DIR,
    ArtifactSettings,
    HttpSettings,
    ReportSettings,
    RuntimeSettings,
    Settings,
    SourceSettings,
    StoreSettings,
)
from reconciler.store import StatusRow, Store, database_url
from reconciler.store.admin import fresh_database

DEMO_DIR = STATE_DIR / "demo"
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Demo User",
    "GIT_AUTHOR_EMAIL": "demo@thunderline.invalid",
    "GIT_COMMITTER_NAME": "Demo User",
    "GIT_COMMITTER_EMAIL": "demo@thunderline.invalid",
}


def _git(cwd: Path, *args: str) -> None:
    env = {"PATH": "/usr/bin:/bin:/usr/local/bin", "HOME": str(cwd), **GIT_ENV}
    subprocess.run(["git", *args], cwd=cwd, env=env, check=True, capture_output=True)


def seed_repository(project: Path, state: Path) -> Path:
    """A bare remote holding specs/, data/ and models/ from the project's examples."""
    remote, seed = state / "remote.git", state / "seed"
    _git(state, "init", "-q", "--bare", "-b", "main", str(remote))
    seed.mkdir()
    shutil.copytree(project / "specs", seed / "specs")
    shutil.copytree(project / "examples" / "data", seed / "data")
    shutil.copytree(project / "examples" / "models", seed / "models")
    _git(seed, "init", "-q", "-b", "main")
    _git(seed, "add", "-A")
    _git(seed, "commit", "-q", "-m", "Add example federations")
    _git(seed, "push", "-q", str(remote), "main")
    return remote


def demo_settings(remote: Path, state: Path, db_url: str) -> Settings:
    return Settings(
        source=SourceSettings(repo=str(remote), interval=5.0, workdir=state / "source"),
        store=StoreSettings(database_url=db_url),
        artifacts=ArtifactSettings(root=str(state / "artifacts")),
        runtime=RuntimeSettings(workdir=state / "flower"),
        report=ReportSettings(workdir=state / "status"),
        http=HttpSettings(port=0),
    )


def _line(row: StatusRow, done: int) -> str:
    """The federation, its phase, the last completed round and that round's metrics."""
    rounds = f"round {done}/{row.total_rounds}"
    return f"{row.key!s:<24} {row.phase.value:<10} {rounds:<11} {format_metrics(row.last_metrics)}"


def _completed(store: Store, row: StatusRow) -> int:
    """The last completed round: the federation's round number moves when a round starts,
    and the next round can start before the last one's metrics are in."""
    done = [r.number for r in store.rounds(row.key) if r.status == "completed"]
    return max(done, default=0)


def follow(store: Store, out: TextIO, *, timeout: float, stop: Callable[[], bool]) -> bool:
    """Print a line whenever a federation's phase changes or a round completes; True when all
    federations that are not paused have finished."""
    shown: dict[object, tuple[object, ...]] = {}
    began = time.monotonic()
    while time.monotonic() - began < timeout and not stop():
        rows = store.status_rows()
        for row in rows:
            line = _line(row, _completed(store, row))
            if shown.get(row.key) != (row.phase, line):
                shown[row.key] = (row.phase, line)
                print(f"[{time.monotonic() - began:5.0f}s] {line}", file=out, flush=True)
        if rows and all(r.phase.terminal or r.phase is Phase.PAUSED for r in rows):
            return True
        time.sleep(0.5)
    return False


def save_logs(store: Store, runtime: Runtime, folder: Path) -> None:
    """Each run's Flower log as `<run id>.log`, for `reconciler logs NAME --demo` once the
    SuperLink is gone."""
    folder.mkdir(parents=True, exist_ok=True)
    for row in store.status_rows():
        for run in store.runs(row.key):
            lines = runtime.logs(run.run_id)
            (folder / f"{run.run_id}.log").write_text("".join(f"{line}\n" for line in lines))


INSPECT = """
The data stays until the next `make demo`. Look at it with the same commands as a daemon's:
  reconciler status --demo               every federation
  reconciler describe NAME --demo        one in detail: conditions, rounds, checkpoint, events
  reconciler history NAME --demo         its generations, runs and checkpoints
  reconciler logs NAME --demo            its Flower log (saved before the SuperLink stopped)
  reconciler events --demo -o yaml       everything that happened"""


def summary(store: Store, checkout: Path, out: TextIO) -> None:
    print("\nFinal status", file=out)
    for row in store.status_rows():
        print(f"  {_line(row, _completed(store, row))}", file=out)
        page = checkout / "status" / row.key.tenant / f"{row.key.name}.md"
        print(f"    status report: {page}", file=out)
        if row.artifact_uri:
            print(f"    checkpoint:    {row.artifact_uri.removeprefix('file://')}", file=out)
            print(f"    sha256:        {row.artifact_sha256}", file=out)
    print(INSPECT, file=out)


def run_demo(
    project: Path,
    *,
    examples: Path | None = None,
    timeout: float = 600.0,
    out: TextIO = sys.stdout,
) -> int:
    """The demo with its state under `project`; `examples` holds specs/ and examples/
    (default: `project`)."""
    configure_logging("WARNING")
    state = (project / DEMO_DIR).resolve()
    shutil.rmtree(state, ignore_errors=True)
    state.mkdir(parents=True)
    remote = seed_repository(examples or project, state)
    print(f"spec repository: {remote} (seeded from specs/ and examples/)", file=out)
    admin_url, described = database_url({}, project / STATE_DIR / "pg")
    print(f"database: {described}, fresh database {DEMO_DATABASE}", file=out)
    settings = demo_settings(remote, state, fresh_database(admin_url, DEMO_DATABASE))
    print("starting a local Flower SuperLink and 3 SuperNodes...", file=out, flush=True)
    with real_parts(settings, leader_election=False) as parts:
        daemon = Daemon(settings, parts).start()
        print(f"daemon listening on {daemon.http.url}", file=out, flush=True)
        print(f"watch it in the web console: {daemon.http.url}/\n", file=out, flush=True)
        try:
            finished = follow(parts.store, out, timeout=timeout, stop=lambda: False)
            daemon.cycle_now()  # the last cycle commits the final status report
            save_logs(parts.store, parts.runtime, project / DEMO_LOGS)
        finally:
            daemon.stop()
        checkout = state / "checkout"
        _git(state, "clone", "-q", str(remote), str(checkout))
        summary(parts.store, checkout, out)
    return 0 if finished else 1
