"""Migrations: from an empty database, re-run, and two processes migrating at once."""

from __future__ import annotations

import threading

import psycopg
import pytest

from reconciler.store import Store
from reconciler.store.migrate import shipped

pytestmark = pytest.mark.pg

TABLES = {
    "schema_migrations",
    "federations",
    "federation_deletions",
    "runs",
    "rounds",
    "artifacts",
    "clients",
    "events",
    "reconcile_cycles",
    "step_errors",
    "spec_findings",
    "notification_cursors",
    "federation_documents",
    "notices",
    "node_labels",
    "daemon_endpoints",
}


def _tables(url: str) -> set[str]:
    with psycopg.connect(url) as conn:
        rows = conn.execute(
            "SELECT table_name FROM information_schema.tables WHERE table_schema = 'public'"
        ).fetchall()
    return {row[0] for row in rows}


def test_migrate_from_empty_creates_every_table(pg_url: str) -> None:
    with Store.connect(pg_url) as store:
        applied = store.migrate()

    assert applied == len(shipped()) >= 1
    assert _tables(pg_url) == TABLES


def test_migrate_again_applies_nothing_and_keeps_data(pg_url: str) -> None:
    from tests.store.conftest import make_spec

    with Store.connect(pg_url) as store:
        store.migrate()
        store.create(make_spec())

        assert store.migrate() == 0
        assert len(store.load_recorded()) == 1


def test_two_daemons_migrating_at_once_apply_each_migration_once(pg_url: str) -> None:
    stores = [Store.connect(pg_url) for _ in range(2)]
    barrier = threading.Barrier(2)
    results: list[int] = []

    def migrate(store: Store) -> None:
        barrier.wait()
        results.append(store.migrate())

    threads = [threading.Thread(target=migrate, args=(s,)) for s in stores]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    for s in stores:
        s.close()

    assert sorted(results) == [0, len(shipped())]
    with psycopg.connect(pg_url) as conn:
        versions = conn.execute("SELECT version FROM schema_migrations").fetchall()
    assert sorted(v[0] for v in versions) == [m.version for m in shipped()]
