"""Benchmark: whole reconcile cycles of the daemon over N specs (issue 9).

    python bench/bench_daemon.py [--specs 10000] [--runs 7]

Builds a real bare Git remote with N specs (bench_validate's shapes), a fresh PostgreSQL
database, and runs the daemon in-process with the in-memory Flower runtime (N real Flower
runs are not the point here) and real status write-back. Measures, each a full cycle from
fetch through the committed report:
  cold      N new specs validated, planned, recorded (and submitted), status written
  noop      fetch finds no new commit, nothing to do
  one       one spec changed among N
and the process's resident memory after the cold cycle. Needs PostgreSQL on 127.0.0.1:5432.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_validate import write_repo  # type: ignore[import-not-found]

from reconciler.store.admin import fresh_database
from tests.daemon.conftest import World, make_world

ADMIN = os.environ.get(
    "THUNDERLINE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
GIT_ENV = {
    "GIT_AUTHOR_NAME": "Bench",
    "GIT_AUTHOR_EMAIL": "bench@thunderline.invalid",
    "GIT_COMMITTER_NAME": "Bench",
    "GIT_COMMITTER_EMAIL": "bench@thunderline.invalid",
}


def rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def timed_cycle(world: World) -> float:
    began = time.perf_counter()
    assert world.daemon.cycle_now(timeout=1800), "cycle did not finish"
    return time.perf_counter() - began


def build(tmp: Path, count: int) -> World:
    seed = tmp / "seed"
    write_repo(seed, count)
    files = {p.relative_to(seed).as_posix(): p.read_text() for p in seed.rglob("*.yaml")}
    url = fresh_database(ADMIN, f"tl_bench_daemon_{count}")
    return make_world(tmp, url, files=files)


def one_change(world: World) -> float:
    path = next(iter(sorted((world.remote.clone / "specs").rglob("*.yaml"))))
    text = path.read_text()
    # rounds.total flips 5 <-> 6: every run is a real spec change (a new digest, an update)
    changed = (
        text.replace("total: 5", "total: 6")
        if "total: 5" in text
        else text.replace("total: 6", "total: 5")
    )
    assert changed != text, f"{path} has no rounds.total of 5 or 6 to change"
    world.push({path.relative_to(world.remote.clone).as_posix(): changed}, "one change")
    return timed_cycle(world)


def run(count: int, runs: int) -> dict[str, Any]:
    os.environ.update(GIT_ENV)
    with tempfile.TemporaryDirectory() as tmp:
        began = time.perf_counter()
        world = build(Path(tmp), count)
        setup = time.perf_counter() - began
        try:
            cold = timed_cycle(world)
            recorded = len(world.store.load_recorded())
            assert recorded == count, f"recorded {recorded} of {count}"
            rss = rss_mib()
            noop = [timed_cycle(world) for _ in range(runs)]
            one = [one_change(world) for _ in range(runs)]
        finally:
            world.daemon.stop()
            world.store.close()
    return {
        "specs": count,
        "setup_s": round(setup, 2),
        "cold_reconcile_s": round(cold, 2),
        "rss_mib": round(rss, 1),
        "cycle_noop_ms": round(statistics.median(noop) * 1000, 1),
        "cycle_noop_ms_range": [round(min(noop) * 1000, 1), round(max(noop) * 1000, 1)],
        "cycle_one_change_ms": round(statistics.median(one) * 1000, 1),
        "cycle_one_change_ms_range": [round(min(one) * 1000, 1), round(max(one) * 1000, 1)],
    }


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", type=int, default=10_000)
    ap.add_argument("--runs", type=int, default=7, help="no-op and one-change cycles each")
    args = ap.parse_args()
    result = run(args.specs, args.runs)
    print(f"cores: {os.cpu_count()}   command: python bench/bench_daemon.py --specs {args.specs}")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
