"""Benchmark: push -> `fl.federation.started` latency, via webhook and via polling (issue 6).

    python bench/bench_push_latency.py [--pushes 20] [--interval 2]

Each push adds a new spec to a real bare Git remote; the daemon (real PostgreSQL, real Git,
the in-memory Flower runtime so that twenty federations do not start twenty Flower runs) is
told by a signed webhook, or finds it on its next poll. Latency is measured from the end of
`git push` to the `fl.federation.started` event in the store. Prints p50 / p95 per mode.
Needs PostgreSQL on 127.0.0.1:5432 (or THUNDERLINE_BENCH_PG_ADMIN).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import statistics
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.store.admin import fresh_database
from tests.daemon.conftest import SPEC, SPEC_PATH, WEBHOOK_SECRET, World, make_world

ADMIN = os.environ.get(
    "THUNDERLINE_BENCH_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)
IDENTITY = {"GIT_AUTHOR_NAME": "Bench", "GIT_AUTHOR_EMAIL": "bench@thunderline.invalid"}


def webhook(world: World) -> None:
    body = json.dumps({"ref": "refs/heads/main"}).encode()
    signature = hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()
    request = urllib.request.Request(
        f"{world.daemon.http.url}/webhook",
        data=body,
        method="POST",
        headers={
            "X-Thunderline-Signature": f"sha256={signature}",
            "Content-Type": "application/json",
        },
    )
    urllib.request.urlopen(request, timeout=10).read()


def started(world: World, name: str, after_id: int) -> bool:
    return any(
        e.type == "fl.federation.started" and e.key is not None and e.key.name == name
        for e in world.store.events(after_id=after_id)
    )


def measure(world: World, pushes: int, *, via_webhook: bool, timeout: float = 60) -> list[float]:
    latencies = []
    for i in range(pushes):
        name = f"bench-{'hook' if via_webhook else 'poll'}-{i:03d}"
        spec = SPEC.replace("name: digits-fedavg", f"name: {name}")
        last = max((e.id for e in world.store.events(after_id=0, limit=100000)), default=0)
        world.push({f"specs/acme/{name}.yaml": spec}, f"add {name}")
        pushed = time.perf_counter()
        if via_webhook:
            webhook(world)
        while not started(world, name, last):
            if time.perf_counter() - pushed > timeout:
                raise TimeoutError(f"{name} did not start within {timeout} s")
            time.sleep(0.005)
        latencies.append(time.perf_counter() - pushed)
    return latencies


def summary(label: str, values: list[float]) -> str:
    p50 = statistics.median(values)
    p95 = statistics.quantiles(values, n=20)[-1] if len(values) >= 2 else values[0]
    return f"{label:<22}{len(values):>7}{p50:>10.3f}{p95:>10.3f}{max(values):>10.3f}"


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--pushes", type=int, default=20)
    ap.add_argument("--interval", type=float, default=2.0, help="poll interval, seconds")
    args = ap.parse_args()
    os.environ.update({**IDENTITY, "GIT_COMMITTER_NAME": "Bench", "GIT_COMMITTER_EMAIL": "b@x"})
    rows = []
    for mode in ("webhook", "polling"):
        with tempfile.TemporaryDirectory() as tmp:
            url = fresh_database(ADMIN, f"tl_bench_push_{mode}")
            interval = 3600 if mode == "webhook" else args.interval
            world = make_world(Path(tmp), url, files={SPEC_PATH: SPEC}, interval=interval)
            try:
                world.cycle()
                rows.append(
                    summary(mode, measure(world, args.pushes, via_webhook=mode == "webhook"))
                )
            finally:
                world.daemon.stop()
                world.store.close()
    print(
        f"cores: {os.cpu_count()}   poll interval: {args.interval} s   target p50 via webhook <= 1 s"
    )
    print(f"{'mode':<22}{'pushes':>7}{'p50 s':>10}{'p95 s':>10}{'max s':>10}")
    print("\n".join(rows))


if __name__ == "__main__":
    main()
