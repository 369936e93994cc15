"""Read queries for the CLI: one federation's past (`status NAME`, `history`) and the last
reconcile cycle (`reconcile`).

`recent_events` is the newest few events, `spec_events` the events that began a generation
(they carry the spec's digest: created, updated, replaced). Part of `Store`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from reconciler.model import FederationKey
from reconciler.store.db import Database
from reconciler.store.outbox import _event
from reconciler.store.records import Event

_COLUMNS = "id, type, tenant, name, generation, payload, created_at"


@dataclass(frozen=True)
class CycleRecord:
    id: int
    revision: str | None
    started_at: datetime
    finished_at: datetime
    actions: int
    errors: tuple[str, ...]


class History(Database):
    def last_cycle(self) -> CycleRecord | None:
        """The newest recorded reconcile cycle."""
        with self._read() as cur:
            cur.execute(
                "SELECT id, revision, started_at, finished_at, actions, errors"
                " FROM reconcile_cycles ORDER BY id DESC LIMIT 1"
            )
            row = cur.fetchone()
        if row is None:
            return None
        cycle_id, revision, started_at, finished_at, actions, errors = row
        return CycleRecord(
            cycle_id, revision, started_at, finished_at, actions, tuple(str(e) for e in errors)
        )

    def recent_events(self, key: FederationKey, limit: int) -> list[Event]:
        """The newest `limit` events of `key`, oldest first."""
        with self._read() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM events WHERE name = %s AND tenant = %s"
                " ORDER BY id DESC LIMIT %s",
                (key.name, key.tenant, limit),
            )
            return [_event(row) for row in reversed(cur.fetchall())]

    def spec_events(self, key: FederationKey) -> list[Event]:
        """Every event that recorded a spec for `key` (its payload names a digest), oldest
        first."""
        with self._read() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM events WHERE name = %s AND tenant = %s"
                " AND payload ? 'digest' ORDER BY id",
                (key.name, key.tenant),
            )
            return [_event(row) for row in cur.fetchall()]
