"""Notices the daemon raises itself (`notices`, migration 0006): invalid specs, stalled rounds.

`raise_notices` appends each notice's event to the outbox in the transaction that remembers
its (kind, federation, fingerprint), and skips one already remembered: a notice is raised
once however many cycles (or restarts) see the same thing, and is then delivered from the
outbox like any event. `run_progress` is what stall detection reads: for each federation
whose run is under way, when it last progressed. Called by `reconciler.notify.raising`.
Part of `Store`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from reconciler.model import FederationKey
from reconciler.store.db import Cursor, Database
from reconciler.store.outbox import append_event


@dataclass(frozen=True)
class NewNotice:
    """A notice to raise: its event type, federation, what makes it the same notice again."""

    kind: str
    key: FederationKey
    fingerprint: str
    generation: int | None = None
    payload: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class RunProgress:
    """A federation with a run under way, and its last sign of progress."""

    key: FederationKey
    generation: int
    current_round: int
    since: datetime  # the last round started or completed, or the phase entered if later
    now: datetime  # the database's clock when read (the times above are on it too)


class Notices(Database):
    """Remembered notices and the progress stall detection reads."""

    def raise_notices(self, notices: Sequence[NewNotice]) -> list[int]:
        """Raise the notices not raised before, in one transaction; their event ids."""
        raised: list[int] = []
        if not notices:
            return raised
        with self._tx() as cur:
            for notice in notices:
                key = notice.key
                cur.execute(
                    "INSERT INTO notices (kind, tenant, name, fingerprint, event_id)"
                    " VALUES (%s, %s, %s, %s, 0) ON CONFLICT DO NOTHING RETURNING 1",
                    (notice.kind, key.tenant, key.name, notice.fingerprint),
                )
                if cur.fetchone() is None:
                    continue  # raised before
                event_id = append_event(
                    cur,
                    notice.kind,
                    federation_id=_federation_id(cur, key),
                    key=key,
                    generation=notice.generation,
                    payload=notice.payload,
                )
                cur.execute(
                    "UPDATE notices SET event_id = %s WHERE kind = %s AND tenant = %s"
                    " AND name = %s AND fingerprint = %s",
                    (event_id, notice.kind, key.tenant, key.name, notice.fingerprint),
                )
                raised.append(event_id)
        return raised

    def run_progress(self) -> list[RunProgress]:
        """Every federation in Starting or Running, with when it last progressed."""
        with self._read() as cur:
            cur.execute(
                "SELECT f.tenant, f.name, f.generation, f.current_round,"
                " GREATEST(f.phase_changed_at, max(r.started_at), max(r.completed_at)), now()"
                " FROM federations f LEFT JOIN rounds r"
                " ON r.federation_id = f.id AND r.generation = f.run_generation"
                " WHERE f.phase IN ('Starting', 'Running') GROUP BY f.id ORDER BY f.id"
            )
            return [
                RunProgress(FederationKey(tenant, name), generation, current, since, now)
                for tenant, name, generation, current, since, now in cur.fetchall()
            ]


def _federation_id(cur: Cursor, key: FederationKey) -> int | None:
    cur.execute(
        "SELECT id FROM federations WHERE tenant = %s AND name = %s", (key.tenant, key.name)
    )
    row = cur.fetchone()
    return int(row[0]) if row else None
