"""Recorded state in PostgreSQL: federations, runs, rounds, artifacts, the event outbox.

Callers use `Store` (pool, migrations, repository methods), `LeaderLock` (one active daemon),
`embedded` (a local PostgreSQL when `DATABASE_URL` is unset) and the error types below.
"""

from reconciler.lifecycle import IllegalTransition
from reconciler.store.embedded import EmbeddedPostgres, database_url
from reconciler.store.errors import (
    BadDatabaseUrl,
    ConflictError,
    NotFound,
    SchemaMissing,
    StoreError,
    StoreUnavailable,
)
from reconciler.store.leader import LeaderLock
from reconciler.store.records import ArtifactRecord, Event, RoundRecord, RunRecord, StatusRow
from reconciler.store.store import Store

__all__ = [
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
]
