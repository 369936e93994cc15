"""What the reliability tests share: spec repositories with data, throwaway databases, and
`reconciler run` as a real subprocess that can be killed, restarted and read back.

The daemon runs as `python -m reconciler run` so that SIGKILL (from a fault point or from the
test) ends it the way a crash does; everything it started is checked through the real
SuperLink (ListRuns), the real database (events, records) and the real Git remote (status).
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Collection, Iterator, Mapping
from pathlib import Path

import psycopg
import yaml

from reconciler.faults import FAULT_ENV, ONCE_ENV
from reconciler.model import FederationKey, Phase, RecordedFederation
from reconciler.store import SchemaMissing, Store
from tests.conftest import ADMIN_URL
from tests.source.gitutil import Remote, git

PROJECT = Path(__file__).parents[2]
EXAMPLE = (PROJECT / "specs" / "acme" / "digits-fedavg.yaml").read_text()
PROGRESS_SECRET = "reliability-progress-secret"


def spec_text(name: str, *, tenant: str = "crash", rounds: int = 1, seed: int = 42) -> str:
    """The example federation under another name, with its own checkpoint prefix."""
    text = EXAMPLE.replace("name: digits-fedavg", f"name: {name}")
    text = text.replace("tenant: acme", f"tenant: {tenant}")
    text = text.replace("prefix: acme/digits-fedavg", f"prefix: {tenant}/{name}")
    return text.replace("total: 5", f"total: {rounds}").replace("seed: 42", f"seed: {seed}")


def spec_path(name: str, tenant: str = "crash") -> str:
    return f"specs/{tenant}/{name}.yaml"


def data_files() -> dict[str, bytes]:
    """The example shards and initial model at the paths the example spec names."""
    files = {}
    for folder, target in (("examples/data", "data"), ("examples/models", "models")):
        for path in (PROJECT / folder).rglob("*.npz"):
            files[f"{target}/{path.relative_to(PROJECT / folder)}"] = path.read_bytes()
    return files


def seed_remote(root: Path, files: Mapping[str, str | bytes]) -> Remote:
    """A bare remote whose first commit holds `files` (text or bytes) plus the example data."""
    root.mkdir(parents=True, exist_ok=True)
    remote = Remote(bare=root / "remote.git", clone=root / "person")
    git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(remote.bare))
    git(root, "clone", "--quiet", str(remote.bare), str(remote.clone))
    git(remote.clone, "checkout", "--quiet", "-B", "main")
    for path, content in {**data_files(), **files}.items():
        target = remote.clone / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(remote.clone, "add", "--all")
    git(remote.clone, "commit", "--quiet", "-m", "specs and data")
    git(remote.clone, "push", "--quiet", "origin", "main")
    return remote


@contextlib.contextmanager
def database() -> Iterator[str]:
    """A fresh database on the shared test server, dropped afterwards."""
    name = f"tl_rel_{uuid.uuid4().hex[:12]}"
    base = ADMIN_URL.rpartition("/")[0]
    with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    try:
        yield f"{base}/{name}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


class DaemonProcess:
    """One `reconciler run` subprocess; its stderr goes to `log_path` (appended per start)."""

    def __init__(
        self,
        workdir: Path,
        *,
        repo: str,
        superlink: str,
        database_url: str,
        port: int,
        leader_election: bool = False,
        interval: float = 2.0,
        extra_env: Mapping[str, str] | None = None,
    ) -> None:
        self.workdir = workdir
        self.port = port
        self.log_path = workdir / "daemon.log"
        self.args = [
            sys.executable, "-m", "reconciler", "run", "--repo", repo, "--superlink", superlink,
            "--database-url", database_url, "--port", str(port), "--interval", str(interval),
            "--artifact-root", str(workdir / "artifacts"),
            # a status commit per changed cycle, as the figures these tests keep were taken;
            # the batching itself is tested in tests/report/test_status_commits.py
            "--status-interval", "0",
        ] + ([] if leader_election else ["--no-leader-election"])  # fmt: skip
        self.extra_env = dict(extra_env or {})
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self, *, fault: str | None = None) -> DaemonProcess:
        self.workdir.mkdir(parents=True, exist_ok=True)
        env = {**os.environ, "THUNDERLINE_PROGRESS_SECRET": PROGRESS_SECRET, **self.extra_env}
        env.pop(FAULT_ENV, None)
        env.pop(ONCE_ENV, None)
        if fault:
            env[FAULT_ENV] = fault
        with self.log_path.open("ab") as log:
            log.write(f"--- start fault={fault} at {time.time():.3f}\n".encode())
            self.proc = subprocess.Popen(
                self.args,
                cwd=self.workdir,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        return self

    def wait(self, timeout: float) -> int | None:
        """The exit code once the process ended, None if it still runs after `timeout`."""
        assert self.proc is not None
        with contextlib.suppress(subprocess.TimeoutExpired):
            return self.proc.wait(timeout=timeout)
        return None

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, sig: signal.Signals = signal.SIGTERM, timeout: float = 60) -> int | None:
        """Signal the process and wait for it; SIGKILL when it does not end in time."""
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(sig)
            if self.wait(timeout) is None:
                self.proc.kill()
                self.proc.wait(timeout=10)
        return self.proc.returncode

    def log(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""


def readyz_role(daemon: DaemonProcess) -> str:
    """What the daemon's /readyz says it is (leader, standby), or "down"."""
    try:
        with urllib.request.urlopen(f"{daemon.url}/readyz", timeout=2) as response:
            return str(json.loads(response.read())["role"])
    except urllib.error.HTTPError as exc:
        return str(json.loads(exc.read()).get("role", "unknown"))
    except OSError:
        return "down"


def recorded(url: str) -> dict[FederationKey, RecordedFederation]:
    """What the database holds; nothing while the daemon has not migrated it yet."""
    with Store.connect(url) as store:
        try:
            return store.load_recorded()
        except SchemaMissing:
            return {}


def wait_for_phase(
    url: str,
    keys: list[FederationKey],
    phase: Phase | Collection[Phase],
    timeout: float,
    daemon: DaemonProcess,
    *,
    generation: int = 1,
    attempt: int = 1,
) -> float:
    """Seconds until every key is recorded in `phase` at `generation` and `attempt` (or
    later), that generation observed; AssertionError with the daemon's log otherwise."""
    began = time.monotonic()
    seen: dict[FederationKey, RecordedFederation] = {}
    phases = {phase} if isinstance(phase, Phase) else set(phase)

    def reached(r: RecordedFederation | None) -> bool:
        if r is None or r.phase not in phases or r.observed_generation < r.generation:
            return False
        return (r.generation, r.attempt) >= (generation, attempt)

    while time.monotonic() - began < timeout:
        seen = recorded(url)
        if all(reached(seen.get(k)) for k in keys):
            return time.monotonic() - began
        if not daemon.alive():
            break
        time.sleep(0.5)
    state = {str(k): (r.phase.value, r.generation, r.attempt, r.reason) for k, r in seen.items()}
    code = None if daemon.proc is None else daemon.proc.poll()
    raise AssertionError(
        f"not all {sorted(p.value for p in phases)} after {timeout:.0f} s (daemon exit code {code}): {state}\n"
        + daemon.log()[-6000:]
    )


def remote_status(remote: Remote, key: FederationKey) -> dict[str, object]:
    """The `status` block of the federation's status report at the remote's head."""
    text = remote.show(remote.head(), f"status/{key.tenant}/{key.name}.yaml")
    return dict(yaml.safe_load(text)["status"])


def wait_for_remote_status(
    remote: Remote,
    key: FederationKey,
    phase: Phase | Collection[Phase],
    timeout: float,
    *,
    generation: int = 1,
) -> dict[str, object]:
    """The status report at the remote once it shows `phase` with `generation` observed."""
    deadline = time.monotonic() + timeout
    status: dict[str, object] = {}
    wanted = {phase.value} if isinstance(phase, Phase) else {p.value for p in phase}
    while time.monotonic() < deadline:
        with contextlib.suppress(AssertionError, KeyError, TypeError):
            status = remote_status(remote, key)
            observed = status.get("observedGeneration")
            if status.get("phase") in wanted and observed == generation:
                return status
        time.sleep(1)
    raise AssertionError(f"status of {key} at the remote is not {sorted(wanted)}: {status}")


def killed(code: int | None) -> bool:
    return code == -signal.SIGKILL
