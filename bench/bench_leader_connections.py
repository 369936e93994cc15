"""Benchmark: connections and threads of a standby, and of a leader in a database outage.

    python bench/bench_leader_connections.py [--seconds 60] [--window 10] [--interval 1]
                                             [--before REF]

Four daemons run in-process, each in its own child process and its own fresh database, with
leader election on, the in-memory Flower runtime and real Git and PostgreSQL:
  standby   another session holds the leader lock the whole time
  outage    the daemon leads, then its database refuses connections (`ALLOW_CONNECTIONS
            false`, its sessions terminated; other databases on the server are untouched)
each once with the code at REF (default HEAD, extracted with `git archive` into a temporary
folder) and once with this working tree. Per window it counts the connection attempts the
process made (psycopg connects: the leader lock's and the pool's), the sessions the server
started in the daemon's database (`pg_stat_database.sessions`), and the threads alive at the
window's end, and prints before and after side by side. Prints figures, asserts nothing.
Needs PostgreSQL on 127.0.0.1:5432 (trust).
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

ADMIN = os.environ.get(
    "THUNDERLINE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
HERE = Path(__file__).resolve()
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@thunderline.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@thunderline.invalid",
}


def count_connects() -> list[int]:
    """Count every psycopg connection attempt in this process from now on."""
    import psycopg

    counter = [0]
    plain, method = psycopg.connect, psycopg.Connection.connect.__func__  # type: ignore[attr-defined]

    def connect(*args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return plain(*args, **kwargs)

    def connect_method(cls: Any, *args: Any, **kwargs: Any) -> Any:
        counter[0] += 1
        return method(cls, *args, **kwargs)

    psycopg.connect = connect  # type: ignore[assignment]
    psycopg.Connection.connect = classmethod(connect_method)  # type: ignore[method-assign,assignment]
    return counter


def child(scenario: str, seconds: float, window: float, interval: float) -> dict[str, Any]:
    """One daemon in this process; the code imported is whatever tree is first on sys.path."""
    import psycopg

    from reconciler.daemon.desired import WORKTREE_EXCLUDES
    from reconciler.daemon.service import Daemon, Parts
    from reconciler.report import StatusWriter
    from reconciler.runtime.fake import FakeRuntime
    from reconciler.settings import (
        ArtifactSettings,
        HttpSettings,
        ReportSettings,
        Settings,
        SourceSettings,
    )
    from reconciler.source import GitSource
    from reconciler.store import LeaderLock, Store
    from reconciler.store.admin import fresh_database
    from tests.daemon.conftest import SPEC, SPEC_PATH
    from tests.source.gitutil import make_remote

    os.environ.update(GIT_ENV)
    db = f"tl_bench_lead_{uuid.uuid4().hex[:10]}"
    url = fresh_database(ADMIN, db)
    admin = psycopg.connect(ADMIN, autocommit=True)
    holder = psycopg.connect(url, autocommit=True)
    if scenario == "standby":
        holder.execute("SELECT pg_advisory_lock(%s)", (0x544C_0000_0000_0010,))
    try:
        with tempfile.TemporaryDirectory() as tmp_name:
            tmp = Path(tmp_name)
            (tmp / "git").mkdir()
            remote = make_remote(tmp / "git", {SPEC_PATH: SPEC})
            store = Store.connect(url)
            store.migrate()
            runtime = FakeRuntime()
            settings = Settings(
                source=SourceSettings(repo=remote.url, interval=interval, workdir=tmp / "src"),
                artifacts=ArtifactSettings(root=str(tmp / "artifacts")),
                report=ReportSettings(workdir=tmp / "status"),
                http=HttpSettings(port=0),
            )
            parts = Parts(
                store=store,
                runtime=runtime,
                source=GitSource(remote.url, tmp / "src", sparse_excludes=WORKTREE_EXCLUDES),
                writer=StatusWriter(tmp / "status", remote=remote.url),
                leader=LeaderLock(url),
                progress_secret=b"bench-progress-secret",
                webhook_secret=None,
            )
            daemon = Daemon(settings, parts)
            runtime.sink = daemon.sink
            daemon.start()
            try:
                return measure(scenario, daemon, admin, db, seconds, window)
            finally:
                admin.execute(f'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS true')
                daemon.stop()
                store.close()
    finally:
        holder.close()
        admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')
        admin.close()


def measure(
    scenario: str, daemon: Any, admin: Any, db: str, seconds: float, window: float
) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    want = "leader" if scenario == "outage" else "standby"
    while daemon.role != want and time.monotonic() < deadline:
        time.sleep(0.1)
    if scenario == "outage":
        assert daemon.cycle_now(timeout=30), "the leader ran no cycle"
        admin.execute(f'ALTER DATABASE "{db}" WITH ALLOW_CONNECTIONS false')
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s", (db,)
        )

    def sessions() -> int:
        row = admin.execute(
            "SELECT sessions FROM pg_stat_database WHERE datname = %s", (db,)
        ).fetchone()
        return int(row[0]) if row else 0

    counter = count_connects()
    rows = []
    last = (0, sessions())
    for _ in range(int(seconds // window)):
        time.sleep(window)
        now = (counter[0], sessions())
        rows.append([now[0] - last[0], now[1] - last[1], threading.active_count()])
        last = now
    return {"role": daemon.role, "windows": rows}


def extract(ref: str, into: Path) -> Path:
    root = HERE.parents[1]
    archive = subprocess.run(
        ["git", "-C", str(root), "archive", ref], capture_output=True, check=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into


def run_child(tree: Path, scenario: str, args: argparse.Namespace) -> dict[str, Any]:
    command = [
        sys.executable, str(HERE), "--child", scenario, "--tree", str(tree),
        "--seconds", str(args.seconds), "--window", str(args.window),
        "--interval", str(args.interval),
    ]  # fmt: skip
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tree)
    if done.returncode != 0:
        raise RuntimeError(f"{scenario} in {tree} failed:\n{done.stdout}\n{done.stderr[-3000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--seconds", type=float, default=60.0)
    ap.add_argument("--window", type=float, default=10.0)
    ap.add_argument("--interval", type=float, default=1.0, help="the daemon's --interval")
    ap.add_argument("--before", default="HEAD", help="git revision measured as 'before'")
    ap.add_argument("--child", choices=["standby", "outage"], help=argparse.SUPPRESS)
    ap.add_argument("--tree", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.child:
        sys.path.insert(0, args.tree)
        print(json.dumps(child(args.child, args.seconds, args.window, args.interval)))
        return
    with tempfile.TemporaryDirectory() as tmp:
        trees = {"before": extract(args.before, Path(tmp)), "after": HERE.parents[1]}
        jobs = [(v, s) for v in trees for s in ("standby", "outage")]
        with ThreadPoolExecutor(len(jobs)) as pool:
            futures = {job: pool.submit(run_child, trees[job[0]], job[1], args) for job in jobs}
            results = {job: f.result() for job, f in futures.items()}
    print(
        f"cores: {os.cpu_count()}   command: python bench/bench_leader_connections.py"
        f" --seconds {args.seconds:g} --window {args.window:g} --interval {args.interval:g}"
        f" --before {args.before}"
    )
    print("per window: connection attempts by the process / sessions the server started / threads")
    for scenario in ("standby", "outage"):
        before, after = results[("before", scenario)], results[("after", scenario)]
        print(f"\n{scenario}  (role at the end: before {before['role']}, after {after['role']})")
        print(f"  {'window':>9}  {'before':>16}  {'after':>16}")
        for i, (b, a) in enumerate(zip(before["windows"], after["windows"], strict=True)):
            span = f"{i * args.window:g}-{(i + 1) * args.window:g} s"
            print(f"  {span:>9}  {'/'.join(map(str, b)):>16}  {'/'.join(map(str, a)):>16}")


if __name__ == "__main__":
    main()
