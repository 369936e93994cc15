"""Benchmark the store: record N federations cold, then read the whole recorded state back.

The read is what every no-op reconcile cycle pays (`Store.load_recorded()`); it must stay
well under 100 ms for 10,000 federations. Also measures leader failover: from killing the
leader's session to a standby (polling every second) holding the lock. Runs against a fresh database created on the
server named by THUNDERLINE_TEST_PG_ADMIN (default postgres@127.0.0.1:5432), dropped after.

    .venv/bin/python bench/bench_store.py [--count 10000] [--reads 30]
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg

from reconciler.model import API_VERSION, KIND, FederationKey, FederationSpec, Phase
from reconciler.store import LeaderLock, Store

ADMIN_URL = os.environ.get(
    "THUNDERLINE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def spec_document(tenant: str, name: str) -> dict[str, Any]:
    """A realistic FederationSpec document (about 1 KB of canonical JSON)."""
    return {
        "apiVersion": API_VERSION,
        "kind": KIND,
        "metadata": {"name": name, "tenant": tenant, "labels": {"team": tenant, "tier": "gold"}},
        "spec": {
            "modelRef": {
                "uri": f"s3://models/{name}/init.npz",
                "sha256": "a" * 64,
                "format": "npz",
            },
            "strategy": {
                "name": "fedprox",
                "params": {
                    "clientFraction": 0.5,
                    "minAvailable": 3,
                    "localEpochs": 2,
                    "localBatchSize": 32,
                    "learningRate": 0.05,
                    "proxMu": 0.01,
                },
            },
            "rounds": {"total": 10, "timeoutSeconds": 600},
            "privacy": {"dp": {"enabled": False}, "secureAggregation": {"enabled": False}},
            "clientSelector": {"tenant": tenant, "tags": ["eu", "gpu"]},
            "datasetSpec": {
                "shards": [
                    {"uri": f"s3://data/{name}/shard-{i}.npz", "sha256": "b" * 64} for i in range(3)
                ],
                "schema": "npz",
            },
            "artifacts": {"outputBucket": "checkpoints", "prefix": f"{tenant}/{name}"},
            "constraints": {"lease": {"maxEpochs": 100, "ttlSeconds": 3600}},
        },
    }


@contextmanager
def fresh_database() -> Iterator[str]:
    db = f"tl_bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    try:
        yield f"{ADMIN_URL.rpartition('/')[0]}/{db}"
    finally:
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


def timed_ms(fn: Any) -> float:
    start = time.perf_counter()
    fn()
    return (time.perf_counter() - start) * 1000


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--reads", type=int, default=30)
    args = parser.parse_args()
    specs = [
        FederationSpec(
            FederationKey(f"tenant-{i % 50}", f"fed-{i:05d}"),
            f"specs/tenant-{i % 50}/fed-{i:05d}.yaml",
            spec_document(f"tenant-{i % 50}", f"fed-{i:05d}"),
        )
        for i in range(args.count)
    ]
    with fresh_database() as url, Store.connect(url) as store:
        migrate_ms = timed_ms(store.migrate)
        start = time.perf_counter()
        for spec in specs:
            store.create(spec)
        create_s = time.perf_counter() - start
        cold = [first_read_ms(url) for _ in range(3)]
        store.load_recorded()
        warm = [timed_ms(store.load_recorded) for _ in range(args.reads)]
        one_changed = [change_one_then_read_ms(store, specs[i].key) for i in range(args.reads)]
        recorded = store.load_recorded()
        parse_ms = timed_ms(lambda: [len(fed.document) for fed in recorded.values()])
        events = len(store.events(limit=2 * args.count))
    assert len(recorded) == args.count and events == args.count + args.reads
    print(f"federations:                   {args.count}")
    print(f"migrate (empty database):      {migrate_ms:8.1f} ms")
    print(
        f"record cold (row + event):     {create_s:8.2f} s "
        f"({create_s / args.count * 1000:.2f} ms each, {args.count / create_s:.0f}/s)"
    )
    print(f"first load_recorded() x3:      {figures(cold)}  (daemon start: every row fetched)")
    print(f"no-op load_recorded() x{args.reads}:    {figures(warm)}  (what a no-op cycle pays)")
    print(f"1 changed, load_recorded() x{args.reads}: {figures(one_changed)}")
    print(f"parse every document once:     {parse_ms:8.1f} ms (only if a planner touched them all)")
    with fresh_database() as url:
        handovers = [failover_ms(url, poll=1.0) for _ in range(5)]
    print(f"leader failover, poll 1 s x5:  {figures(handovers)}  (holder's backend terminated)")


def figures(samples: list[float]) -> str:
    ordered = sorted(samples)
    p95 = ordered[max(0, round(len(ordered) * 0.95) - 1)]
    return (
        f"median {statistics.median(ordered):6.1f} ms, p95 {p95:6.1f} ms, max {ordered[-1]:6.1f} ms"
    )


def first_read_ms(url: str) -> float:
    with Store.connect(url) as fresh:
        return timed_ms(fresh.load_recorded)


def failover_ms(url: str, *, poll: float) -> float:
    """Time from killing the leader's session to a polling standby holding the lock."""
    active, standby = LeaderLock(url), LeaderLock(url)
    stop, acquired = threading.Event(), threading.Event()
    assert active.try_acquire()
    waiter = threading.Thread(target=lambda: standby.acquire(stop, poll) and acquired.set())
    waiter.start()
    time.sleep(random.uniform(0, poll))  # the kill lands anywhere in the standby's poll cycle
    with psycopg.connect(url, autocommit=True) as admin:
        start = time.perf_counter()
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'"
            " AND granted AND database = (SELECT oid FROM pg_database"
            " WHERE datname = current_database())"
        )
    acquired.wait(10 * poll)
    elapsed = (time.perf_counter() - start) * 1000
    stop.set()
    waiter.join()
    assert not active.is_held() and standby.is_held()
    standby.release()
    return elapsed


def change_one_then_read_ms(store: Store, key: FederationKey) -> float:
    fed = store.load_recorded()[key]
    store.transition(key, Phase.PAUSED, expected_version=fed.version)
    return timed_ms(store.load_recorded)


if __name__ == "__main__":
    main()
