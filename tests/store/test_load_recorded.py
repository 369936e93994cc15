"""Loading the recorded state: complete, current after writes from anywhere, documents intact."""

from __future__ import annotations

import psycopg
import pytest

from reconciler.model import Phase
from reconciler.store import SchemaMissing, Store
from tests.store.conftest import make_spec

pytestmark = pytest.mark.pg


def test_load_returns_every_federation_as_recorded(store: Store) -> None:
    specs = [make_spec(f"f{i}", labels={"i": str(i)}) for i in range(3)]
    created = [store.create(spec) for spec in specs]

    recorded = store.load_recorded()

    assert recorded == {fed.key: fed for fed in created}
    for spec in specs:
        fed = recorded[spec.key]
        assert dict(fed.document) == spec.document
        assert (fed.digest, fed.path, fed.generation, fed.total_rounds) == (
            spec.digest,
            spec.path,
            1,
            3,
        )


def test_load_sees_writes_made_by_another_process(pg_url: str) -> None:
    with Store.connect(pg_url) as daemon, Store.connect(pg_url) as other:
        daemon.migrate()
        kept, moved, dropped = (daemon.create(make_spec(n)) for n in ("kept", "moved", "dropped"))
        first = daemon.load_recorded()

        moved_now = other.transition(moved.key, Phase.STARTING, expected_version=moved.version)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM federations WHERE name = 'dropped'")
        added = other.create(make_spec("added"))
        second = daemon.load_recorded()

        assert set(first) == {kept.key, moved.key, dropped.key}
        assert second == {kept.key: kept, moved.key: moved_now, added.key: added}
        assert second[kept.key] is first[kept.key]  # unchanged rows are not fetched again


def test_mark_observed_moves_forward_only(store: Store) -> None:
    fed = store.create(make_spec())

    fed = store.mark_observed(fed.key, 1, expected_version=fed.version)
    again = store.mark_observed(fed.key, 0, expected_version=fed.version)

    assert (fed.observed_generation, fed.version) == (1, 2)
    assert again == fed
    with pytest.raises(ValueError):
        store.mark_observed(fed.key, 2, expected_version=fed.version)
    assert len(store.events()) == 1  # observing writes no event


def test_unmigrated_database_says_to_migrate(pg_url: str) -> None:
    with Store.connect(pg_url) as store, pytest.raises(SchemaMissing, match="reconciler migrate"):
        store.load_recorded()


def test_load_after_a_truncate_starts_over(pg_url: str) -> None:
    with Store.connect(pg_url) as store:
        store.migrate()
        store.create(make_spec("gone"))
        assert len(store.load_recorded()) == 1
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("TRUNCATE federations CASCADE")
        assert store.load_recorded() == {}
        added = store.create(make_spec("new"))
        assert store.load_recorded() == {added.key: added}


def test_a_write_committed_late_is_not_skipped(pg_url: str) -> None:
    """A write that started first and commits after a later one the reader already saw is
    still read: the reader looks again at everything newer than its snapshot's horizon."""
    with Store.connect(pg_url) as store:
        store.migrate()
        first, second = store.create(make_spec("first")), store.create(make_spec("second"))
        store.load_recorded()
        with psycopg.connect(pg_url) as slow, psycopg.connect(pg_url, autocommit=True) as fast:
            slow.execute(
                "UPDATE federations SET reason = 'slow', version = version + 1 WHERE name = 'first'"
            )
            fast.execute(
                "UPDATE federations SET reason = 'fast', version = version + 1 WHERE name = 'second'"
            )
            mid = store.load_recorded()
            slow.commit()
        after = store.load_recorded()
        again = store.load_recorded()

    assert (mid[first.key].reason, mid[second.key].reason) == ("", "fast")
    assert (after[first.key].reason, after[second.key].reason) == ("slow", "fast")
    assert after[second.key] is mid[second.key]  # read again, unchanged: the same record
    assert again == after
