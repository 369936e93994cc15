"""What status reports need, for many federations in five queries.

The report step rebuilds the recorded part of a status only for federations whose row
changed; after a cold start that is all of them, so the rounds, artifacts, runs, newest
events and overview rows are read for the whole batch at once instead of five queries each.
Events are read only here: a federation whose row did not move costs no event query.
Part of `Store`.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.model import FederationKey, Phase
from reconciler.store.db import Database
from reconciler.store.outbox import _event
from reconciler.store.progress import _STATUS_SQL
from reconciler.store.records import ArtifactRecord, Event, RoundRecord, RunRecord, StatusRow

_IN_BATCH = "(f.tenant, f.name) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
EVENTS_SHOWN = 10  # the newest events of each federation a report lists


@dataclass
class ReportParts:
    row: StatusRow
    rounds: list[RoundRecord] = field(default_factory=list)
    artifacts: list[ArtifactRecord] = field(default_factory=list)
    runs: list[RunRecord] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)  # the newest EVENTS_SHOWN, oldest first

    @property
    def latest_artifact(self) -> ArtifactRecord | None:
        return max(self.artifacts, key=lambda a: (a.generation, a.round), default=None)


class Reports(Database):
    def report_parts(self, keys: Sequence[FederationKey]) -> dict[FederationKey, ReportParts]:
        if not keys:
            return {}
        params = ([k.tenant for k in keys], [k.name for k in keys])
        with self._read() as cur:
            cur.execute(_STATUS_SQL.format(where=_IN_BATCH), params)
            parts = {
                FederationKey(t, n): ReportParts(StatusRow(FederationKey(t, n), Phase(p), *rest))
                for t, n, p, *rest in cur.fetchall()
            }
            for target, (sql, build) in _PARTS.items():
                cur.execute(sql.format(batch=_IN_BATCH), params)
                found: dict[FederationKey, list[Any]] = defaultdict(list)
                for tenant, name, *row in cur.fetchall():
                    key = FederationKey(tenant, name)
                    found[key].append(build(key, row))
                for key, items in found.items():
                    if key in parts:
                        setattr(parts[key], target, items)
            cur.execute(_EVENTS, (*params, EVENTS_SHOWN))
            for event_row in cur.fetchall():
                event = _event(tuple(event_row))
                if event.key in parts:
                    parts[event.key].events.append(event)
        return parts


_ROUNDS = """
SELECT f.tenant, f.name, r.generation, r.number, r.status, r.metrics, r.started_at, r.completed_at
FROM rounds r JOIN federations f ON f.id = r.federation_id WHERE {batch}
ORDER BY f.tenant, f.name, r.generation, r.number
"""
_ARTIFACTS = """
SELECT f.tenant, f.name, a.generation, a.round, a.uri, a.sha256, a.size, a.format, a.created_at
FROM artifacts a JOIN federations f ON f.id = a.federation_id WHERE {batch}
ORDER BY f.tenant, f.name, a.generation, a.round
"""
_RUNS = """
SELECT f.tenant, f.name, r.run_id, r.generation, r.attempt, r.status, r.sub_status, r.details,
       r.created_at, r.updated_at, r.target
FROM runs r JOIN federations f ON f.id = r.federation_id WHERE {batch}
ORDER BY f.tenant, f.name, r.generation, r.attempt
"""

# Per federation, through the events_by_name index: the newest few, whatever the history.
_EVENTS = """
SELECT e.id, e.type, e.tenant, e.name, e.generation, e.payload, e.created_at
FROM unnest(%s::text[], %s::text[]) AS k(tenant, name)
CROSS JOIN LATERAL (
    SELECT * FROM events WHERE events.name = k.name AND events.tenant = k.tenant
    ORDER BY events.id DESC LIMIT %s
) e
ORDER BY e.tenant, e.name, e.id
"""

_PARTS: dict[str, tuple[str, Callable[[FederationKey, list[Any]], Any]]] = {
    "rounds": (_ROUNDS, lambda key, row: RoundRecord(key, *row)),
    "artifacts": (_ARTIFACTS, lambda key, row: ArtifactRecord(key, *row)),
    # numeric(20) run ids arrive as Decimal
    "runs": (_RUNS, lambda key, row: RunRecord(key, int(row[0]), *row[1:])),
}
