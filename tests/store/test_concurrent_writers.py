"""Optimistic concurrency: of two writers holding the same version, one wins, the other gets
a conflict and writes nothing."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest

from reconciler.model import Phase, RecordedFederation
from reconciler.store import ConflictError, Store
from tests.store.conftest import make_spec, unique_spec

pytestmark = pytest.mark.pg


def _race(*writers: Callable[[], RecordedFederation]) -> list[RecordedFederation | Exception]:
    barrier = threading.Barrier(len(writers))
    results: list[RecordedFederation | Exception] = []

    def run(write: Callable[[], RecordedFederation]) -> None:
        barrier.wait()
        try:
            results.append(write())
        except Exception as exc:
            results.append(exc)

    threads = [threading.Thread(target=run, args=(w,)) for w in writers]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=30)
    return results


def test_two_connections_racing_on_one_federation(pg_url: str) -> None:
    with Store.connect(pg_url) as first, Store.connect(pg_url) as second:
        first.migrate()
        seen = first.create(make_spec())

        results = _race(
            lambda: first.transition(seen.key, Phase.PAUSED, expected_version=seen.version),
            lambda: second.transition(seen.key, Phase.STOPPED, expected_version=seen.version),
        )

        winners = [r for r in results if isinstance(r, RecordedFederation)]
        losers = [r for r in results if isinstance(r, Exception)]
        assert len(winners) == 1 and len(losers) == 1
        assert isinstance(losers[0], ConflictError)
        assert first.get(seen.key) == winners[0]
        assert winners[0].version == seen.version + 1
        types = [e.type for e in first.events(federation=seen.key)]
        assert types in (
            ["fl.federation.created", "fl.federation.paused"],
            ["fl.federation.created", "fl.federation.stopped"],
        )


def test_stale_writer_cannot_overwrite_a_newer_state(shared_store: Store) -> None:
    stale = shared_store.create(unique_spec())
    newer = shared_store.transition(stale.key, Phase.STARTING, expected_version=stale.version)

    with pytest.raises(ConflictError, match="reload"):
        shared_store.transition(stale.key, Phase.STOPPED, expected_version=stale.version)
    with pytest.raises(ConflictError):
        shared_store.replace_spec(
            stale.key, make_spec(stale.key.name, paused=True), expected_version=stale.version
        )

    assert shared_store.get(stale.key) == newer
    assert len(shared_store.events(federation=stale.key)) == 2
