"""The event outbox and the reconcile-cycle log.

`append_event` is called by the other store modules inside their transaction, as its last
statement, so a row change and its event commit together. Ids are handed out under an
advisory lock held until commit: events become visible in id order, and a reader that keeps
the last id it saw (`events(after_id=...)`, `reconciler events --follow`) never skips one.
`Outbox` adds the read side and `record_cycle` to `Store`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from reconciler.model import FederationKey
from reconciler.store.db import Cursor, Database
from reconciler.store.records import Event

EVENT_ORDER_LOCK = 0x544C_0000_0000_0002


def append_event(
    cur: Cursor,
    event_type: str,
    *,
    federation_id: int | None,
    key: FederationKey | None,
    generation: int | None,
    payload: Mapping[str, Any],
) -> int:
    """Insert one event in the caller's transaction; return its id."""
    # The lock is taken before the id is drawn (the SELECT feeds the INSERT) and held to commit.
    cur.execute(
        "INSERT INTO events (type, federation_id, tenant, name, generation, payload)"
        " SELECT %s, %s::bigint, %s::text, %s::text, %s::integer, %s"
        " FROM (SELECT pg_advisory_xact_lock(%s)) AS ordered RETURNING id",
        (
            event_type,
            federation_id,
            key.tenant if key else None,
            key.name if key else None,
            generation,
            Jsonb(dict(payload)),
            EVENT_ORDER_LOCK,
        ),
    )
    row = cur.fetchone()
    assert row is not None
    return int(row[0])


def federation_filter(federation: FederationKey | str | None) -> tuple[str, tuple[str, ...]]:
    """SQL condition and parameters selecting one federation: a key, "tenant/name" or a name."""
    if federation is None:
        return "TRUE", ()
    if isinstance(federation, str) and "/" in federation:
        tenant, _, name = federation.partition("/")
        federation = FederationKey(tenant, name)
    if isinstance(federation, FederationKey):
        return "name = %s AND tenant = %s", (federation.name, federation.tenant)
    return "name = %s", (federation,)


class Outbox(Database):
    """Reading events; recording reconcile cycles."""

    def events(
        self,
        *,
        after_id: int = 0,
        federation: FederationKey | str | None = None,
        limit: int = 1000,
    ) -> list[Event]:
        """Events with id > `after_id`, oldest first, at most `limit`."""
        where, params = federation_filter(federation)
        with self._read() as cur:
            cur.execute(
                "SELECT id, type, tenant, name, generation, payload, created_at FROM events"
                f" WHERE id > %s AND {where} ORDER BY id LIMIT %s",
                (after_id, *params, limit),
            )
            return [_event(row) for row in cur.fetchall()]

    def last_event_id(self) -> int:
        """The id of the newest event (0 when there is none): where a reader starts that
        wants only what comes next."""
        with self._read() as cur:
            cur.execute("SELECT COALESCE(max(id), 0) FROM events")
            row = cur.fetchone()
        return int(row[0]) if row else 0

    def record_cycle(
        self,
        *,
        revision: str | None,
        started_at: datetime,
        finished_at: datetime,
        actions: int,
        errors: Sequence[str],
    ) -> int:
        """Record one reconcile cycle; return its id."""
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO reconcile_cycles (revision, started_at, finished_at, actions, errors)"
                " VALUES (%s, %s, %s, %s, %s) RETURNING id",
                (revision, started_at, finished_at, actions, Jsonb(list(errors))),
            )
            row = cur.fetchone()
        assert row is not None
        return int(row[0])


def _event(row: tuple[Any, ...]) -> Event:
    event_id, event_type, tenant, name, generation, payload, created_at = row
    key = FederationKey(tenant, name) if tenant is not None else None
    return Event(event_id, event_type, key, generation, payload, created_at)
