"""The outbox: one event per write, in commit order, readable in pages and per federation."""

from __future__ import annotations

import threading
from datetime import UTC, datetime, timedelta

import psycopg
import pytest

from reconciler.model import Phase
from reconciler.store import Store
from tests.store.conftest import make_spec, walk

pytestmark = pytest.mark.pg


def test_a_federation_lifecycle_reads_back_as_its_events_in_order(store: Store) -> None:
    key = store.create(make_spec()).key
    walk(store, key, Phase.STARTING, Phase.RUNNING)
    store.round_started(key, 1, 1)
    store.round_completed(key, 1, 1, {"accuracy": 0.5})
    store.artifact_recorded(key, 1, 1, uri="file:///m.npz", sha256="ab" * 32, size=10, format="npz")
    walk(store, key, Phase.PAUSED, Phase.STARTING, Phase.RUNNING, Phase.COMPLETED)

    events = store.events()

    assert [e.type for e in events] == [
        "fl.federation.created",
        "fl.federation.started",
        "fl.federation.running",
        "fl.round.started",
        "fl.round.completed",
        "fl.aggregate.completed",
        "fl.federation.paused",
        "fl.federation.resumed",
        "fl.federation.running",
        "fl.federation.completed",
    ]
    assert [e.id for e in events] == sorted({e.id for e in events})
    assert all(e.key == key and e.generation == 1 for e in events)
    assert events[4].payload["metrics"] == {"accuracy": 0.5}


def test_events_page_by_id_and_filter_by_federation(store: Store) -> None:
    for name in ("a", "b", "c"):
        store.create(make_spec(name))
    store.create(make_spec("a", tenant="other"))

    first_two = store.events(limit=2)
    rest = store.events(after_id=first_two[-1].id)

    assert [str(e.key) for e in first_two + rest] == ["acme/a", "acme/b", "acme/c", "other/a"]
    assert [str(e.key) for e in store.events(federation="a")] == ["acme/a", "other/a"]
    assert [str(e.key) for e in store.events(federation="other/a")] == ["other/a"]
    assert store.events(federation=make_spec("c").key)[0].payload["path"] == "specs/acme/c.yaml"


def test_concurrent_writers_commit_events_in_id_order(pg_url: str) -> None:
    """A reader that remembers the last id it saw never skips an event written meanwhile."""
    with Store.connect(pg_url, max_size=8) as store:
        store.migrate()
        keys = [store.create(make_spec(f"f{i}")).key for i in range(6)]
        seen: list[int] = []
        done = threading.Event()

        def follow() -> None:
            last = 0
            while not done.is_set() or store.events(after_id=last):
                for event in store.events(after_id=last):
                    seen.append(event.id)
                    last = event.id

        def churn(key: object) -> None:
            for _ in range(5):
                walk(store, key, Phase.PAUSED, Phase.STARTING)  # type: ignore[arg-type]

        reader = threading.Thread(target=follow)
        writers = [threading.Thread(target=churn, args=(k,)) for k in keys]
        reader.start()
        for w in writers:
            w.start()
        for w in writers:
            w.join(timeout=60)
        done.set()
        reader.join(timeout=30)

        assert seen == [e.id for e in store.events(limit=10_000)]
        assert len(seen) == 6 + 6 * 10


def test_cycles_are_recorded(store: Store, pg_url: str) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    end = datetime(2026, 1, 1, 0, 0, 2, tzinfo=UTC)

    first = store.record_cycle(
        revision="abc123", started_at=start, finished_at=end, actions=3, errors=["boom"]
    )
    second = store.record_cycle(
        revision=None, started_at=start, finished_at=end, actions=0, errors=[]
    )

    with psycopg.connect(pg_url) as conn:
        rows = conn.execute(
            "SELECT id, revision, finished_at - started_at, actions, errors"
            " FROM reconcile_cycles ORDER BY id"
        ).fetchall()
    assert rows == [
        (first, "abc123", timedelta(seconds=2), 3, ["boom"]),
        (second, None, timedelta(seconds=2), 0, []),
    ]
