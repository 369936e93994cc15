"""Progress reported from inside a Flower run: rounds, aggregated model artifacts, clients.

The ServerApp's reports reach the daemon over HTTP and may be retried, so every call here is
idempotent: the first report writes its row and its one event (and moves the federation's
`current_round`), a repeat writes nothing and returns False. A report must carry the
generation the current run was launched with (`run_generation`, or the federation's
generation before any launch); others come from a superseded run and raise `ConflictError`.
Part of `Store`; also holds `status_rows`, the overview `reconciler status` prints.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from psycopg.types.json import Jsonb

from reconciler import lifecycle
from reconciler.model import FederationKey, Phase
from reconciler.store.db import Cursor, Database
from reconciler.store.errors import ConflictError, NotFound
from reconciler.store.outbox import append_event, federation_filter
from reconciler.store.records import ArtifactRecord, RoundRecord, StatusRow


def _reporting(cur: Cursor, key: FederationKey, generation: int) -> int:
    """Lock the federation a report is about; return its row id."""
    cur.execute(
        "SELECT id, run_generation, generation FROM federations"
        " WHERE tenant = %s AND name = %s FOR UPDATE",
        (key.tenant, key.name),
    )
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"federation {key} is not recorded")
    fed_id, run_generation, current = row
    expected = run_generation or current
    if generation != expected:
        raise ConflictError(
            f"report for {key} generation {generation} ignored: the current run belongs to"
            f" generation {expected}"
        )
    return int(fed_id)


def _advance(cur: Cursor, fed_id: int, number: int) -> None:
    cur.execute(
        "UPDATE federations SET current_round = %s, version = version + 1, updated_at = now()"
        " WHERE id = %s AND current_round < %s",
        (number, fed_id, number),
    )


def _event(
    cur: Cursor, kind: str, fed_id: int, key: FederationKey, generation: int, **payload: Any
) -> None:
    append_event(
        cur,
        kind,
        federation_id=fed_id,
        key=key,
        generation=generation,
        payload={"generation": generation, **payload},
    )


class Progress(Database):
    """Rounds, artifacts and clients, as the ServerApp reports them."""

    def round_started(self, key: FederationKey, generation: int, round: int) -> bool:
        with self._tx() as cur:
            fed_id = _reporting(cur, key, generation)
            cur.execute(
                "INSERT INTO rounds (federation_id, generation, number, status, started_at)"
                " VALUES (%s, %s, %s, 'started', now())"
                " ON CONFLICT (federation_id, generation, number) DO UPDATE"
                " SET status = 'started', started_at = now()"
                " WHERE rounds.status = 'interrupted' RETURNING 1",
                (fed_id, generation, round),
            )
            if cur.fetchone() is None:
                return False
            _advance(cur, fed_id, round)
            _event(cur, lifecycle.ROUND_STARTED, fed_id, key, generation, round=round)
        return True

    def round_completed(
        self,
        key: FederationKey,
        generation: int,
        round: int,
        metrics: Mapping[str, Any],
        dropped: Mapping[str, str] | None = None,
    ) -> bool:
        """Record the round done; `dropped` (node id -> lease reason): nodes whose reply did
        not count, one `fl.client.dropped` event each (their client row stays: they were
        dropped for this round only)."""
        with self._tx() as cur:
            fed_id = _reporting(cur, key, generation)
            cur.execute(
                "INSERT INTO rounds (federation_id, generation, number, status, metrics,"
                " completed_at) VALUES (%s, %s, %s, 'completed', %s, now())"
                " ON CONFLICT (federation_id, generation, number) DO UPDATE"
                " SET status = 'completed', metrics = EXCLUDED.metrics, completed_at = now()"
                " WHERE rounds.status <> 'completed' RETURNING 1",
                (fed_id, generation, round, Jsonb(dict(metrics))),
            )
            if cur.fetchone() is None:
                return False
            _advance(cur, fed_id, round)
            _event(
                cur,
                lifecycle.ROUND_COMPLETED,
                fed_id,
                key,
                generation,
                round=round,
                metrics=dict(metrics),
            )
            for node, reason in sorted((dropped or {}).items()):
                _event(
                    cur,
                    lifecycle.CLIENT_DROPPED,
                    fed_id,
                    key,
                    generation,
                    node_id=node,
                    round=round,
                    reason=reason,
                )
        return True

    def artifact_recorded(
        self,
        key: FederationKey,
        generation: int,
        round: int,
        *,
        uri: str,
        sha256: str,
        size: int,
        format: str,
    ) -> bool:
        """Record the aggregated model of a round. A different artifact for a round that already
        has one raises `ConflictError`."""
        with self._tx() as cur:
            fed_id = _reporting(cur, key, generation)
            cur.execute(
                "INSERT INTO artifacts (federation_id, generation, round, uri, sha256, size, format)"
                " VALUES (%s, %s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (fed_id, generation, round, uri, sha256, size, format),
            )
            if cur.fetchone() is None:
                _same_artifact(cur, fed_id, generation, round, (uri, sha256))
                return False
            _event(
                cur,
                lifecycle.AGGREGATE_COMPLETED,
                fed_id,
                key,
                generation,
                round=round,
                uri=uri,
                sha256=sha256,
                size=size,
                format=format,
            )
        return True

    def client_joined(self, key: FederationKey, generation: int, node_id: str) -> bool:
        return self._client(key, generation, node_id, "joined", lifecycle.CLIENT_JOINED)

    def client_dropped(self, key: FederationKey, generation: int, node_id: str) -> bool:
        return self._client(key, generation, node_id, "dropped", lifecycle.CLIENT_DROPPED)

    def _client(
        self, key: FederationKey, generation: int, node_id: str, status: str, kind: str
    ) -> bool:
        with self._tx() as cur:
            fed_id = _reporting(cur, key, generation)
            dropped_at = "now()" if status == "dropped" else "NULL"
            cur.execute(
                "INSERT INTO clients (federation_id, generation, node_id, status, dropped_at)"
                f" VALUES (%s, %s, %s, %s, {dropped_at})"
                " ON CONFLICT (federation_id, generation, node_id) DO UPDATE"
                " SET status = EXCLUDED.status, dropped_at = EXCLUDED.dropped_at,"
                " joined_at = CASE WHEN EXCLUDED.status = 'joined' THEN now()"
                " ELSE clients.joined_at END"
                " WHERE clients.status <> EXCLUDED.status RETURNING 1",
                (fed_id, generation, node_id, status),
            )
            if cur.fetchone() is None:
                return False
            _event(cur, kind, fed_id, key, generation, node_id=node_id)
        return True

    def round_statuses(
        self, key: FederationKey, generation: int, numbers: Sequence[int]
    ) -> dict[int, str]:
        """Status ("started", "completed" or "interrupted") of the given rounds of one generation that are
        recorded; what the progress sink checks a report's round against."""
        with self._read() as cur:
            cur.execute(
                "SELECT r.number, r.status FROM rounds r JOIN federations f"
                " ON f.id = r.federation_id WHERE f.tenant = %s AND f.name = %s"
                " AND r.generation = %s AND r.number = ANY(%s)",
                (key.tenant, key.name, generation, list(numbers)),
            )
            return {int(number): str(status) for number, status in cur.fetchall()}

    def artifact_for(
        self, key: FederationKey, generation: int, round: int
    ) -> ArtifactRecord | None:
        """The artifact recorded for one round of one generation, if any."""
        found = self._artifacts(key, "AND a.generation = %s AND a.round = %s", (generation, round))
        return found[0] if found else None

    def rounds(self, key: FederationKey) -> list[RoundRecord]:
        """Every recorded round, by generation then number."""
        with self._read() as cur:
            cur.execute(
                "SELECT r.generation, r.number, r.status, r.metrics, r.started_at,"
                " r.completed_at FROM rounds r JOIN federations f ON f.id = r.federation_id"
                " WHERE f.tenant = %s AND f.name = %s ORDER BY r.generation, r.number",
                (key.tenant, key.name),
            )
            return [RoundRecord(key, *row) for row in cur.fetchall()]

    def artifacts(self, key: FederationKey) -> list[ArtifactRecord]:
        """Every recorded artifact, oldest first."""
        return self._artifacts(key, "ORDER BY a.generation, a.round")

    def latest_artifact(self, key: FederationKey) -> ArtifactRecord | None:
        found = self._artifacts(key, "ORDER BY a.generation DESC, a.round DESC LIMIT 1")
        return found[0] if found else None

    def _artifacts(
        self, key: FederationKey, order: str, more: tuple[Any, ...] = ()
    ) -> list[ArtifactRecord]:
        with self._read() as cur:
            cur.execute(
                "SELECT a.generation, a.round, a.uri, a.sha256, a.size, a.format, a.created_at"
                " FROM artifacts a JOIN federations f ON f.id = a.federation_id"
                f" WHERE f.tenant = %s AND f.name = %s {order}",
                (key.tenant, key.name, *more),
            )
            return [ArtifactRecord(key, *row) for row in cur.fetchall()]

    def status_rows(self, federation: FederationKey | str | None = None) -> list[StatusRow]:
        """One overview row per federation (a key, "tenant/name" or a bare name selects)."""
        where, params = federation_filter(federation)
        with self._read() as cur:
            cur.execute(_STATUS_SQL.format(where=where), params)
            return [_status_row(row) for row in cur.fetchall()]


_STATUS_SQL = """
SELECT f.tenant, f.name, f.phase, f.reason, f.generation, f.observed_generation,
       f.current_round, f.total_rounds, COALESCE(r.metrics, '{{}}'::jsonb), a.uri, a.sha256,
       f.created_at, f.updated_at
FROM federations f
LEFT JOIN LATERAL (
    SELECT metrics FROM rounds WHERE federation_id = f.id AND status = 'completed'
    ORDER BY generation DESC, number DESC LIMIT 1) r ON TRUE
LEFT JOIN LATERAL (
    SELECT uri, sha256 FROM artifacts WHERE federation_id = f.id
    ORDER BY generation DESC, round DESC LIMIT 1) a ON TRUE
WHERE {where}
ORDER BY f.tenant, f.name
"""


def _status_row(row: tuple[Any, ...]) -> StatusRow:
    tenant, name, phase, *rest = row
    return StatusRow(FederationKey(tenant, name), Phase(phase), *rest)


def _same_artifact(
    cur: Cursor, fed_id: int, generation: int, round: int, wanted: tuple[str, str]
) -> None:
    cur.execute(
        "SELECT uri, sha256 FROM artifacts WHERE federation_id = %s AND generation = %s"
        " AND round = %s",
        (fed_id, generation, round),
    )
    if cur.fetchone() != wanted:
        raise ConflictError(f"round {round} of generation {generation} has another artifact")
