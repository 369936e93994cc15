"""Read queries for one federation's past, for `reconciler status NAME` and `history`.

`recent_events` is the newest few events, `spec_events` the events that began a generation
(they carry the spec's digest: created, updated, replaced). Part of `Store`.
"""

from __future__ import annotations

from reconciler.model import FederationKey
from reconciler.store.db import Database
from reconciler.store.outbox import _event
from reconciler.store.records import Event

_COLUMNS = "id, type, tenant, name, generation, payload, created_at"


class History(Database):
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
