"""The store's public surface is exactly its `__all__`, and every name in it exists."""

from __future__ import annotations

import reconciler.store as store

EXPECTED = {
    "ArtifactRecord",
    "BadDatabaseUrl",
    "ConflictError",
    "EmbeddedPostgres",
    "Event",
    "IllegalTransition",
    "LeaderLock",
    "NotFound",
    "RoundRecord",
    "RunRecord",
    "SchemaMissing",
    "StatusRow",
    "Store",
    "StoreError",
    "StoreUnavailable",
    "database_url",
}


def test_exported_names_are_exactly_the_public_api() -> None:
    assert set(store.__all__) == EXPECTED
    assert all(hasattr(store, name) for name in store.__all__)


def test_error_types_say_what_to_do_next() -> None:
    for error in (store.StoreUnavailable, store.ConflictError, store.NotFound, store.SchemaMissing):
        assert issubclass(error, store.StoreError)
    assert issubclass(store.IllegalTransition, ValueError)
    assert not issubclass(store.IllegalTransition, store.StoreError)
