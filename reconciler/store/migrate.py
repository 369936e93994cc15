"""Applies the versioned SQL migrations shipped in `reconciler/store/migrations/`.

Called by `Store.migrate()` (from `reconciler migrate` and at daemon start). Files are named
`NNNN_description.sql` and applied in number order, each recorded in `schema_migrations`.
The whole run holds a transaction-scoped advisory lock, so two daemons starting at once
apply each migration exactly once; re-running applies nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from importlib import resources

import psycopg

# Advisory lock keys used by the store (64-bit; "TL" in the high bytes keeps them apart from
# other applications sharing the database).
MIGRATION_LOCK = 0x544C_0000_0000_0001

_NAME = re.compile(r"^(\d{4})_([a-z0-9_]+)\.sql$")


@dataclass(frozen=True)
class Migration:
    version: int
    name: str
    sql: str


def shipped() -> list[Migration]:
    """The migrations in the package, in version order."""
    found = []
    for entry in resources.files("reconciler.store.migrations").iterdir():
        match = _NAME.match(entry.name)
        if match:
            found.append(Migration(int(match[1]), match[2], entry.read_text(encoding="utf-8")))
    return sorted(found, key=lambda m: m.version)


def apply_migrations(conn: psycopg.Connection[tuple[object, ...]]) -> int:
    """Apply every shipped migration not yet recorded, in one transaction; return the count."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        conn.execute(
            "CREATE TABLE IF NOT EXISTS schema_migrations ("
            " version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at timestamptz NOT NULL DEFAULT now())"
        )
        done = {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}
        pending = [m for m in shipped() if m.version not in done]
        for migration in pending:
            conn.execute(migration.sql.encode("utf-8"))  # no parameters: may hold many statements
            conn.execute(
                "INSERT INTO schema_migrations (version, name) VALUES (%s, %s)",
                (migration.version, migration.name),
            )
    return len(pending)
