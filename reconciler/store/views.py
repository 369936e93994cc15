"""Read queries for the web console and its API: a page of federations, one federation's
history, the spec documents of its generations. Part of `Store`; reads only.

The list is filtered, sorted and paged in SQL, so a page costs the same at 10,000
federations as at ten: the filters use indexes (migration 0008: phase, labels, age; the
(tenant, name) key), the headline metrics are read only for the page's rows, and the total
is one count over the same condition. Free text is a substring of "tenant/name".
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from reconciler.model import Document, FederationKey, Phase, RecordedFederation
from reconciler.store.db import Database
from reconciler.store.federations import _COLUMNS, _recorded
from reconciler.store.records import RoundRecord

# sort name -> ORDER BY; every one ends on the key, so pages never overlap
SORTS: Mapping[str, str] = {
    "name": 'f.tenant COLLATE "C" {dir}, f.name COLLATE "C" {dir}',
    "age": "f.created_at {dir}, f.id {dir}",
    "phase": 'f.phase {dir}, f.tenant COLLATE "C", f.name COLLATE "C"',
    "updated": "f.updated_at {dir}, f.id {dir}",
}
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class ListQuery:
    """Which federations a list page shows; every field is from outside (a query string)."""

    tenant: str = ""
    phase: str = ""  # a `Phase` value, or "" for any
    label: str = ""  # "key=value", or "key" for any value
    text: str = ""  # a substring of "tenant/name", any case
    sort: str = "name"  # a key of SORTS
    descending: bool = False
    page: int = 1
    per_page: int = 50

    def __post_init__(self) -> None:
        if self.sort not in SORTS:
            raise ValueError(f"sort must be one of {', '.join(SORTS)}, not {self.sort!r}")
        if self.phase and self.phase not in {p.value for p in Phase}:
            raise ValueError(f"phase {self.phase!r} is not a phase")
        if self.page < 1 or not 1 <= self.per_page <= MAX_PER_PAGE:
            raise ValueError(f"page must be >= 1 and per_page within 1..{MAX_PER_PAGE}")


@dataclass(frozen=True)
class ListRow:
    key: FederationKey
    phase: Phase
    reason: str
    generation: int
    current_round: int
    total_rounds: int
    labels: Mapping[str, str]
    last_metrics: Mapping[str, Any]  # of the newest completed round; {} before one
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class ListPage:
    rows: list[ListRow]
    total: int  # federations matching the query, on every page
    query: ListQuery


@dataclass(frozen=True)
class GenerationRecord:
    """The spec document a federation had at one generation."""

    generation: int
    path: str
    document: Mapping[str, Any]
    digest: str
    recorded_at: datetime


def _conditions(q: ListQuery) -> tuple[str, list[Any]]:
    where: list[str] = ["TRUE"]
    params: list[Any] = []
    if q.tenant:
        where.append("f.tenant = %s")
        params.append(q.tenant)
    if q.phase:
        where.append("f.phase = %s")
        params.append(q.phase)
    if q.label:
        name, has_value, value = q.label.partition("=")
        if has_value:  # containment: the GIN index on metadata.labels answers it
            where.append("f.document -> 'metadata' -> 'labels' @> %s")
            params.append(Jsonb({name.strip(): value.strip()}))
        else:
            where.append("f.document -> 'metadata' -> 'labels' ? %s")
            params.append(name.strip())
    if q.text:
        where.append("strpos(lower(f.tenant || '/' || f.name), lower(%s)) > 0")
        params.append(q.text)
    return " AND ".join(where), params


# The page's ids first (narrow rows, from an index where the order has one), then its rows.
_PAGE = """
WITH page AS (SELECT f.id FROM federations f WHERE {where} ORDER BY {order} LIMIT %s OFFSET %s)
SELECT f.tenant, f.name, f.phase, f.reason, f.generation, f.current_round, f.total_rounds,
       COALESCE(f.document -> 'metadata' -> 'labels', '{{}}'::jsonb),
       COALESCE(r.metrics, '{{}}'::jsonb), f.created_at, f.updated_at
FROM page JOIN federations f ON f.id = page.id
LEFT JOIN LATERAL (
    SELECT metrics FROM rounds WHERE federation_id = f.id AND status = 'completed'
    ORDER BY generation DESC, number DESC LIMIT 1) r ON TRUE
ORDER BY {order}
"""

# Each tenant by one probe of the (tenant, name) index, not a scan of every row.
_TENANTS = """
WITH RECURSIVE t(tenant) AS (
    (SELECT tenant COLLATE "C" FROM federations ORDER BY tenant COLLATE "C" LIMIT 1)
    UNION ALL
    SELECT (SELECT f.tenant COLLATE "C" FROM federations f WHERE f.tenant COLLATE "C" > t.tenant
            ORDER BY f.tenant COLLATE "C" LIMIT 1)
    FROM t WHERE t.tenant IS NOT NULL
)
SELECT tenant FROM t WHERE tenant IS NOT NULL
"""


class Views(Database):
    """The console's reads."""

    def federation_page(self, q: ListQuery) -> ListPage:
        where, params = _conditions(q)
        order = SORTS[q.sort].format(dir="DESC" if q.descending else "ASC")
        offset = (q.page - 1) * q.per_page
        with self._read() as cur:
            cur.execute(f"SELECT count(*) FROM federations f WHERE {where}", params)
            count = cur.fetchone()
            cur.execute(_PAGE.format(where=where, order=order), [*params, q.per_page, offset])
            rows = [
                ListRow(FederationKey(t, n), Phase(p), *rest) for t, n, p, *rest in cur.fetchall()
            ]
        return ListPage(rows, int(count[0]) if count else 0, q)

    def tenants(self) -> list[str]:
        with self._read() as cur:
            cur.execute(_TENANTS)
            return [row[0] for row in cur.fetchall()]

    def federation(self, key: FederationKey) -> RecordedFederation | None:
        with self._read() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM federations WHERE tenant = %s AND name = %s",
                (key.tenant, key.name),
            )
            row = cur.fetchone()
        return _recorded(row) if row else None

    def generations(self, key: FederationKey) -> list[GenerationRecord]:
        """The spec documents of the federation's generations, oldest first."""
        with self._read() as cur:
            cur.execute(
                "SELECT d.generation, d.path, d.document::text, d.digest, d.recorded_at"
                " FROM federation_documents d JOIN federations f ON f.id = d.federation_id"
                " WHERE f.tenant = %s AND f.name = %s ORDER BY d.generation",
                (key.tenant, key.name),
            )
            return [
                GenerationRecord(g, path, Document(text), digest, at)
                for g, path, text, digest, at in cur.fetchall()
            ]

    def rounds_of(self, keys: Sequence[FederationKey]) -> dict[FederationKey, list[RoundRecord]]:
        """Every recorded round of each federation, by generation then number."""
        found: dict[FederationKey, list[RoundRecord]] = {key: [] for key in keys}
        with self._read() as cur:
            cur.execute(
                "SELECT f.tenant, f.name, r.generation, r.number, r.status, r.metrics,"
                " r.started_at, r.completed_at FROM rounds r"
                " JOIN federations f ON f.id = r.federation_id"
                " WHERE (f.tenant, f.name) IN (SELECT * FROM unnest(%s::text[], %s::text[]))"
                " ORDER BY f.tenant, f.name, r.generation, r.number",
                ([k.tenant for k in keys], [k.name for k in keys]),
            )
            for tenant, name, *row in cur.fetchall():
                key = FederationKey(tenant, name)
                found[key].append(RoundRecord(key, *row))
        return found

    def recorded_snapshot(self) -> dict[FederationKey, RecordedFederation]:
        """Every federation as recorded now, read whole: for a plan preview beside the
        daemon's cycle, whose incremental read (`load_recorded`) this leaves alone."""
        with self._read() as cur:
            cur.execute(f"SELECT {_COLUMNS} FROM federations")
            return {fed.key: fed for fed in map(_recorded, cur.fetchall())}
