"""Benchmark: the web console and its API at 10,000 federations (issue 17).

    python bench/bench_console.py [--count 10000] [--runs 15]

A fresh PostgreSQL database gets N federations (bulk-created through the store, as a cold
start records them: 20 tenants, labels team/dataset/gpu), a third of them Running with 20
completed rounds each (written with one INSERT: the setup is not what is measured). The
console is served on a real uvicorn server on loopback and read over HTTP; each figure is
the median (and p95) of `--runs` requests after one warm-up, the whole answer read:
  list first / filtered / text / last page      the HTML page at /
  api first / filtered / last page              /api/v1/federations
  federation page / api                         one Running federation with 20 rounds
  plan page                                     the preview as the daemon makes it: the
                                                recorded state read whole, planned against
                                                the N specs as desired state
Needs PostgreSQL on 127.0.0.1:5432. Prints the figures; not a test.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time
import uuid
from pathlib import Path

import httpx
import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.console import Access, Console, routes
from reconciler.model import API_VERSION, KIND, DesiredState, FederationKey, FederationSpec
from reconciler.plan import plan
from reconciler.serving import BackgroundServer, build_app
from reconciler.settings import HttpLimits
from reconciler.store import Store
from reconciler.store.admin import fresh_database

ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
ROUNDS = 20


def spec(i: int) -> FederationSpec:
    tenant, name = f"tenant-{i % 20:02d}", f"federation-{i:05d}"
    labels = {"team": ("vision", "speech", "nlp")[i % 3], "dataset": f"ds-{i % 50}"}
    if i % 10 == 0:
        labels["gpu"] = "yes"
    document = {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "tenant": tenant, "labels": labels},
        "spec": {"rounds": {"total": 50}, "strategy": {"name": "fedavg"}, "seed": i},
    }
    return FederationSpec(FederationKey(tenant, name), f"specs/{tenant}/{name}.yaml", document)


def populate(url: str, specs: list[FederationSpec]) -> tuple[float, FederationKey]:
    """Record the federations; the seconds it took and one Running federation's key."""
    began = time.perf_counter()
    with Store.connect(url) as store:
        store.migrate()
        store.create_many(specs)
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute(
            "UPDATE federations SET phase = 'Running', run_generation = 1, current_round = %s"
            " WHERE id %% 3 = 0",
            (ROUNDS,),
        )
        conn.execute(
            "INSERT INTO rounds (federation_id, generation, number, status, metrics,"
            " started_at, completed_at)"
            " SELECT f.id, 1, n, 'completed',"
            " jsonb_build_object('accuracy', 0.5 + n / 50.0, 'loss', 1.0 / n), now(), now()"
            " FROM federations f, generate_series(1, %s) n WHERE f.id %% 3 = 0",
            (ROUNDS,),
        )
        conn.execute("ANALYZE")
        row = conn.execute("SELECT tenant, name FROM federations WHERE id % 3 = 0 LIMIT 1")
        running = FederationKey(*row.fetchone())  # type: ignore[misc]
    return time.perf_counter() - began, running


def timed(client: httpx.Client, path: str, runs: int) -> tuple[float, float]:
    client.get(path).raise_for_status()  # warm-up
    times = []
    for _ in range(runs):
        began = time.perf_counter()
        answer = client.get(path)
        answer.raise_for_status()
        times.append((time.perf_counter() - began) * 1000)
    times.sort()
    return statistics.median(times), times[max(0, int(len(times) * 0.95) - 1)]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=15)
    args = parser.parse_args()
    name = f"tl_bench_console_{uuid.uuid4().hex[:8]}"
    url = fresh_database(ADMIN, name)
    try:
        specs = [spec(i) for i in range(args.count)]
        desired = DesiredState(specs={s.key: s for s in specs}, revision="bench")
        setup_s, running = populate(url, specs)
        print(f"{args.count} federations recorded in {setup_s:.1f} s (setup, not measured)")
        print(f"load average {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
        with Store.connect(url) as store:
            console = Console(
                store,
                Access.for_host("127.0.0.1", None),
                plan=lambda: plan(desired, store.recorded_snapshot()),
            )
            app = build_app(routes(console), limits=HttpLimits())
            server = BackgroundServer(
                app, host="127.0.0.1", port=0, limits=HttpLimits(), name="bench-console"
            )
            server.start()
            last = (args.count + 49) // 50
            one = f"/federations/{running.tenant}/{running.name}"
            cases = {
                "list_first_page": "/",
                "list_filtered": "/?phase=Running&label=team%3Dvision&tenant=tenant-03",
                "list_text": "/?q=ion-0999",
                "list_last_page": f"/?page={last}",
                "list_by_age_desc": "/?sort=age&desc=1",
                "api_first_page": "/api/v1/federations",
                "api_filtered": "/api/v1/federations?phase=Running&label=gpu",
                "api_last_page": f"/api/v1/federations?page={last}",
                "federation_page": one,
                "federation_api": "/api/v1" + one,
                "plan_page": "/plan",
            }
            figures: dict[str, float] = {}
            try:
                with httpx.Client(base_url=server.url, timeout=30) as client:
                    for case, path in cases.items():
                        median, p95 = timed(client, path, args.runs)
                        figures[f"console_{case}_ms"] = round(median, 1)
                        print(f"{case:18} {median:7.1f} ms median  {p95:7.1f} ms p95   {path}")
            finally:
                server.stop()
        print(json.dumps(figures))
    finally:
        with psycopg.connect(ADMIN, autocommit=True) as conn:
            conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    return 0


if __name__ == "__main__":
    sys.exit(main())
