"""Bulk writes for the cold path: many new federations created and launched in few statements.

A first cycle over 10,000 specs would otherwise pay ~10 round trips per federation. Here a
batch is one transaction of a handful of statements over arrays (`unnest`), with the same
guarantees as the one-row methods: each row change has exactly its one event (same types,
same payload shape), writes are checked against `expected_version`, and rows that lost a race
are left out of the result (their federation is retried by the next cycle, as a
`ConflictError` would be). Part of `Store`; `apply` calls it for batches of new federations.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from reconciler import lifecycle
from reconciler.model import (
    DEFAULT_TARGET,
    FederationKey,
    FederationSpec,
    Phase,
    RecordedFederation,
)
from reconciler.store.db import Cursor, Database
from reconciler.store.federations import _COLUMNS, _recorded, document_json
from reconciler.store.outbox import EVENT_ORDER_LOCK

# JSON goes as binary parameters (%b): in a text-format array every quote in it is escaped,
# by a regex substitution per quote (3 s for 10,000 documents).
_CREATE = f"""
INSERT INTO federations (tenant, name, path, document, digest, generation, phase, total_rounds)
SELECT t, n, p, d::jsonb, g, 1, %s, r
FROM unnest(%s::text[], %s::text[], %s::text[], %b::text[], %s::text[], %s::int[]) AS u(t, n, p, d, g, r)
ON CONFLICT (tenant, name) DO NOTHING
RETURNING id, {_COLUMNS}
"""

# Lock the rows, keep those still at the expected version and in a phase a launch may leave.
_LAUNCH = f"""
WITH wanted AS (
    SELECT * FROM unnest(%s::text[], %s::text[], %s::int[], %s::int[], %s::int[])
        AS w(tenant, name, expected, attempt, recoveries)
), locked AS (
    SELECT f.id, f.phase AS old_phase, w.attempt, w.recoveries FROM federations f
    JOIN wanted w ON f.tenant = w.tenant AND f.name = w.name
    WHERE f.version = w.expected AND f.phase = ANY(%s::text[])
    FOR UPDATE OF f
)
UPDATE federations f SET phase = 'Starting', reason = '', attempt = l.attempt,
    recoveries = l.recoveries, run_generation = f.generation,
    observed_generation = f.generation, version = f.version + 1,
    updated_at = now(), phase_changed_at = now()
FROM locked l WHERE f.id = l.id
RETURNING f.id, l.old_phase, {", ".join("f." + c.strip() for c in _COLUMNS.split(","))}
"""

_EVENTS = """
INSERT INTO events (type, federation_id, tenant, name, generation, payload)
SELECT ty, fid, t, n, g, p::jsonb
FROM (SELECT pg_advisory_xact_lock(%s)) AS ordered,
     unnest(%s::text[], %s::bigint[], %s::text[], %s::text[], %s::int[], %b::text[])
         WITH ORDINALITY AS e(ty, fid, t, n, g, p, ord)
ORDER BY ord
"""

_RUNS = """
INSERT INTO runs (federation_id, generation, attempt, run_id, status, target)
SELECT * FROM unnest(%s::bigint[], %s::int[], %s::int[], %s::numeric[], %s::text[], %s::text[])
ON CONFLICT DO NOTHING
"""


@dataclass(frozen=True)
class Launch:
    """One federation's submitted run, to be recorded with its move to Starting."""

    record: RecordedFederation  # as read before submitting (its version is checked)
    run_id: int
    start_round: int = 1
    reason: str = ""
    target: str = DEFAULT_TARGET  # the SuperLink the run is on


@dataclass
class _Events:
    types: list[str]
    ids: list[int]
    tenants: list[str]
    names: list[str]
    generations: list[int]
    payloads: list[str]

    @classmethod
    def empty(cls) -> _Events:
        return cls([], [], [], [], [], [])

    def add(
        self, kind: str, fed_id: int, key: FederationKey, generation: int, payload: dict[str, Any]
    ) -> None:
        self.types.append(kind)
        self.ids.append(fed_id)
        self.tenants.append(key.tenant)
        self.names.append(key.name)
        self.generations.append(generation)
        self.payloads.append(json.dumps({"generation": generation, **payload}))

    def write(self, cur: Cursor) -> None:
        if self.types:
            cur.execute(
                _EVENTS,
                (EVENT_ORDER_LOCK, self.types, self.ids, self.tenants, self.names,
                 self.generations, self.payloads),
            )  # fmt: skip


class Bulk(Database):
    """`create_many` and `launch_many`."""

    def create_many(self, specs: Sequence[FederationSpec]) -> list[RecordedFederation]:
        """Record new federations (Pending, generation 1), each with `fl.federation.created`.
        A spec whose (tenant, name) is already recorded is skipped (not in the result)."""
        if not specs:
            return []
        dump = [document_json(s.document) for s in specs]
        paths = {s.key: s.path for s in specs}
        digests = {s.key: s.digest for s in specs}
        events = _Events.empty()
        created = []
        with self._tx() as cur:
            cur.execute(
                _CREATE,
                (
                    Phase.PENDING.value,
                    [s.key.tenant for s in specs],
                    [s.key.name for s in specs],
                    [s.path for s in specs],
                    dump,
                    [s.digest for s in specs],
                    [s.rounds_total for s in specs],
                ),
            )
            for row in cur.fetchall():
                fed = _recorded(row[1:])
                created.append(fed)
                payload = {"digest": digests[fed.key], "path": paths[fed.key]}
                events.add(lifecycle.event_type(None, Phase.PENDING), row[0], fed.key, 1, payload)
            events.write(cur)
        return created

    def launch_many(self, launches: Sequence[Launch]) -> list[RecordedFederation]:
        """Record submitted runs and move their federations to Starting, one event each.
        A federation whose version moved since `record` was read is left out."""
        if not launches:
            return []
        by_key = {launch.record.key: launch for launch in launches}
        sources = sorted(
            p.value for p in lifecycle.ALLOWED if p and Phase.STARTING in lifecycle.ALLOWED[p]
        )
        events = _Events.empty()
        launched = []
        with self._tx() as cur:
            cur.execute(
                _LAUNCH,
                (
                    [x.record.key.tenant for x in launches],
                    [x.record.key.name for x in launches],
                    [x.record.version for x in launches],
                    [x.record.attempt + 1 for x in launches],
                    [x.record.recoveries + bool(x.reason) for x in launches],
                    sources,
                ),
            )
            rows = cur.fetchall()
            runs: tuple[list[Any], ...] = ([], [], [], [], [], [])
            for fed_id, old_phase, *columns in rows:
                fed = _recorded(tuple(columns))
                launch = by_key[fed.key]
                launched.append(fed)
                for column, value in zip(
                    runs,
                    (fed_id, fed.generation, fed.attempt, launch.run_id, "pending", launch.target),
                    strict=True,
                ):
                    column.append(value)
                kind = lifecycle.event_type(Phase(old_phase), Phase.STARTING)
                payload = {
                    "from": old_phase,
                    "to": Phase.STARTING.value,
                    "attempt": fed.attempt,
                    "recoveries": fed.recoveries,
                    "run_id": launch.run_id,
                    "target": launch.target,
                    "start_round": launch.start_round,
                    **({"reason": launch.reason} if launch.reason else {}),
                }
                events.add(kind, fed_id, fed.key, fed.generation, payload)
            if rows:
                cur.execute(_RUNS, runs)
            events.write(cur)
        return launched
