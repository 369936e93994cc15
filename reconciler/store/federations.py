"""Federation rows: loading the recorded state and writing lifecycle changes.

Every write here is one transaction that locks the row, compares the caller's
`expected_version` (optimistic concurrency: a stale writer gets `ConflictError` and writes
nothing), checks the lifecycle (`IllegalTransition` writes nothing), updates the row, bumps
its version and appends exactly one event. `Store` exposes these methods; `apply` calls them.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

from psycopg import sql
from psycopg.types.json import Jsonb
from psycopg_pool import ConnectionPool

from reconciler import lifecycle
from reconciler.model import Document, FederationKey, FederationSpec, Phase, RecordedFederation
from reconciler.store.db import Cursor, Database
from reconciler.store.errors import ConflictError, NotFound
from reconciler.store.outbox import append_event

_COLUMNS = (
    "tenant, name, path, document::text, digest, generation, observed_generation, phase,"
    " reason, current_round, total_rounds, attempt, run_generation, recoveries, phase_changed_at,"
    " version"
)
_KEY_ORDER = 'tenant COLLATE "C", name COLLATE "C"'  # byte order: the order Python sorts keys
_PHASES = {phase.value: phase for phase in Phase}
_EMPTY: Mapping[str, Any] = MappingProxyType({})


def _recorded(row: tuple[Any, ...]) -> RecordedFederation:
    tenant, name, path, document, digest, generation, observed, phase, *rest = row
    reason, current_round, total_rounds, attempt, run_generation, recoveries, since, version = rest
    return RecordedFederation(
        key=FederationKey(tenant, name),
        path=path,
        document=Document.with_digest(digest, document),
        digest=digest,
        generation=generation,
        observed_generation=observed,
        phase=_PHASES[phase],
        reason=reason,
        current_round=current_round,
        total_rounds=total_rounds,
        attempt=attempt,
        run_generation=run_generation,
        recoveries=recoveries,
        version=version,
        phase_since=since,
    )


def _reuse(built: RecordedFederation | None, row: tuple[Any, ...]) -> RecordedFederation:
    """The record built before when the row's version did not move (rows stamped by a
    transaction that was still running at the last read are read again): unchanged records
    stay the same objects, which is how later steps tell that nothing moved."""
    version = row[-1]
    return built if built is not None and built.version == version else _recorded(row)


def _one(cur: Cursor) -> Any:
    row = cur.fetchone()
    assert row is not None
    return row[0]


def _plain(value: object) -> object:
    if isinstance(value, Mapping):
        return dict(value)
    raise TypeError(f"cannot store {type(value).__name__} in a spec document")


def _document(spec: FederationSpec) -> Jsonb:
    return Jsonb(spec.document, dumps=document_json)


def document_json(document: Mapping[str, Any]) -> str:
    """A spec document as JSON text for a jsonb column (packed documents hold it already)."""
    if isinstance(document, Document):
        return document.json_text()
    return json.dumps(document, default=_plain)


class Federations(Database):
    """Reads and lifecycle writes of federation rows."""

    def __init__(self, pool: ConnectionPool, url: str) -> None:
        super().__init__(pool, url)
        # Rows already built, by row id, and the horizon of the last read: rows stamped by
        # a transaction at least that new may have changed since (migration 0002).
        self._built: dict[int, RecordedFederation] = {}
        self._horizon: str | None = None  # an xid8, as text; None: nothing read yet
        self._built_lock = threading.Lock()

    def load_recorded(self) -> dict[FederationKey, RecordedFederation]:
        """Every recorded federation, each row as one consistent read.

        After the first call only rows changed since the previous call are read (by their
        writer's transaction id, from an index): a quiet cycle over 10,000 federations
        reads no row at all. Documents are parsed from their JSON text on first use.
        """
        with self._built_lock, self._tx() as cur:
            # One snapshot for every read here, and its horizon for the next call.
            cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
            cur.execute("SELECT pg_snapshot_xmin(pg_current_snapshot())::text")
            horizon = _one(cur)
            since = self._horizon or "0"
            cur.execute(
                "SELECT federation_id FROM federation_deletions WHERE change_xid >= %s::xid8",
                (since,),
            )
            deleted = {row[0] for row in cur.fetchall()}
            built = self._built if self._horizon is not None and 0 not in deleted else {}
            if built:
                cur.execute(
                    f"SELECT id, {_COLUMNS} FROM federations WHERE change_xid >= %s::xid8",
                    (since,),
                )
            else:  # the first read, an empty cache, or a TRUNCATE (row 0): read everything
                # in key order, which later reads keep: callers then sort a sorted list
                cur.execute(f"SELECT id, {_COLUMNS} FROM federations ORDER BY {_KEY_ORDER}")
            changed = cur.fetchall()
            current = {i: fed for i, fed in built.items() if i not in deleted}
            current.update((row[0], _reuse(built.get(row[0]), row[1:])) for row in changed)
            self._built, self._horizon = current, horizon
        return {fed.key: fed for fed in current.values()}

    def get(self, key: FederationKey) -> RecordedFederation:
        with self._read() as cur:
            cur.execute(
                f"SELECT {_COLUMNS} FROM federations WHERE tenant = %s AND name = %s",
                (key.tenant, key.name),
            )
            row = cur.fetchone()
        if row is None:
            raise NotFound(f"federation {key} is not recorded")
        return _recorded(row)

    def create(self, spec: FederationSpec, *, phase: Phase = Phase.PENDING) -> RecordedFederation:
        """Record a new federation at generation 1; event `fl.federation.created`."""
        kind = lifecycle.event_type(None, phase)
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO federations (tenant, name, path, document, digest, generation,"
                " phase, total_rounds) VALUES (%s, %s, %s, %s, %s, 1, %s, %s)"
                f" ON CONFLICT (tenant, name) DO NOTHING RETURNING id, {_COLUMNS}",
                (
                    spec.key.tenant,
                    spec.key.name,
                    spec.path,
                    _document(spec),
                    spec.digest,
                    phase.value,
                    spec.rounds_total,
                ),
            )
            row = cur.fetchone()
            if row is None:
                raise ConflictError(f"federation {spec.key} is already recorded")
            fed = _recorded(row[1:])
            payload = {"generation": 1, "digest": spec.digest, "path": spec.path}
            append_event(
                cur, kind, federation_id=row[0], key=fed.key, generation=1, payload=payload
            )
        return fed

    def transition(
        self,
        key: FederationKey,
        to: Phase,
        *,
        expected_version: int,
        reason: str = "",
        payload: Mapping[str, Any] = _EMPTY,
        attempt: int | None = None,
        recoveries: int | None = None,
    ) -> RecordedFederation:
        """Move to phase `to` (same generation); one event of the lifecycle's type.

        `reason` replaces the recorded reason (empty clears it); `attempt` and `recoveries`,
        when given, replace the recorded counters and go into the event's payload.
        A finished federation restarts only through `replace_spec`.
        """
        if to is Phase.PENDING:
            raise ValueError("a federation re-enters Pending only with a new generation")
        with self._tx() as cur:
            fed_id, old = _lock(cur, key, expected_version)
            kind = lifecycle.event_type(old.phase, to)
            counters = {
                "attempt": old.attempt if attempt is None else attempt,
                "recoveries": old.recoveries if recoveries is None else recoveries,
            }
            changes = {"phase": to.value, "reason": reason, **counters}
            if to is Phase.STARTING:  # a run is launched with the current generation
                changes["run_generation"] = old.generation
            fed = _update(cur, fed_id, changes, phase_changed=True)
            details: dict[str, Any] = {"from": old.phase.value, "to": to.value, **counters}
            if reason:
                details["reason"] = reason
            if to.terminal and (interrupted := _interrupt_rounds(cur, fed_id)):
                details["interrupted_rounds"] = interrupted
            append_event(
                cur,
                kind,
                federation_id=fed_id,
                key=key,
                generation=fed.generation,
                payload={"generation": fed.generation, **details, **payload},
            )
        return fed

    def replace_spec(
        self,
        key: FederationKey,
        spec: FederationSpec,
        *,
        expected_version: int,
        to: Phase | None = None,
        changed: Sequence[str] = (),
        reason: str = "",
    ) -> RecordedFederation:
        """Record a new generation of the spec; one event.

        `to=None` updates in place (same phase, rounds and run continue): `fl.federation.updated`.
        Otherwise the change is also the transition to `to`, with that transition's event
        (`fl.federation.created` for a finished federation going back to Pending, which
        starts the new generation from round 0 with no attempts or recoveries); `reason`
        is then recorded as the transition's reason.
        """
        if spec.key != key:
            raise ValueError(f"spec for {spec.key} cannot replace {key}")
        with self._tx() as cur:
            fed_id, old = _lock(cur, key, expected_version)
            kind = lifecycle.UPDATED if to is None else lifecycle.event_type(old.phase, to)
            changes: dict[str, object] = {
                "path": spec.path,
                "document": _document(spec),
                "digest": spec.digest,
                "generation": old.generation + 1,
                "total_rounds": spec.rounds_total,
            }
            if to is not None:
                changes |= {"phase": to.value, "reason": reason}
            if to is Phase.STARTING:
                changes["run_generation"] = old.generation + 1
            if to is Phase.PENDING:
                changes |= {
                    "run_generation": 0,
                    "current_round": 0,
                    "attempt": 0,
                    "recoveries": 0,
                }
            fed = _update(cur, fed_id, changes, phase_changed=to is not None)
            payload: dict[str, Any] = {
                "generation": fed.generation,
                "digest": spec.digest,
                "path": spec.path,
                "changed": list(changed),
            }
            if to is not None:
                payload |= {"from": old.phase.value, "to": to.value}
            if to is not None and reason:
                payload["reason"] = reason
            if to is not None and (interrupted := _interrupt_rounds(cur, fed_id)):
                payload["interrupted_rounds"] = interrupted
            append_event(
                cur, kind, federation_id=fed_id, key=key, generation=fed.generation, payload=payload
            )
        return fed

    def mark_observed(
        self, key: FederationKey, generation: int, *, expected_version: int
    ) -> RecordedFederation:
        """Move observedGeneration forward to `generation` (never back). No event."""
        with self._tx() as cur:
            fed_id, old = _lock(cur, key, expected_version)
            if generation > old.generation:
                raise ValueError(f"{key} has no generation {generation} (at {old.generation})")
            if generation <= old.observed_generation:
                return old
            return _update(cur, fed_id, {"observed_generation": generation}, phase_changed=False)


def _interrupt_rounds(cur: Cursor, fed_id: int) -> list[int]:
    """Mark the federation's rounds still `started` as `interrupted` (it finished, or its
    generation was replaced: no run will complete them); their numbers, for the event.
    A pause leaves them: the round under way when it was asked for still completes."""
    cur.execute(
        "UPDATE rounds SET status = 'interrupted' WHERE federation_id = %s"
        " AND status = 'started' RETURNING number",
        (fed_id,),
    )
    return sorted(int(number) for (number,) in cur.fetchall())


def _update(
    cur: Cursor, fed_id: int, changes: Mapping[str, object], *, phase_changed: bool
) -> RecordedFederation:
    """Write `changes` (column -> value) to a locked row, bump its version, return the new row."""
    assigns: list[sql.Composable] = [
        sql.SQL("{} = %s").format(sql.Identifier(column)) for column in changes
    ]
    assigns.append(sql.SQL("version = version + 1, updated_at = now()"))
    if phase_changed:
        assigns.append(sql.SQL("phase_changed_at = now()"))
    cur.execute(
        sql.SQL("UPDATE federations SET {} WHERE id = %s RETURNING {}").format(
            sql.SQL(", ").join(assigns), sql.SQL(_COLUMNS)
        ),
        (*changes.values(), fed_id),
    )
    row = cur.fetchone()
    assert row is not None, "the row is locked by this transaction"
    return _recorded(row)


def _lock(cur: Cursor, key: FederationKey, expected_version: int) -> tuple[int, RecordedFederation]:
    """Lock the federation's row for this transaction; refuse a stale `expected_version`."""
    cur.execute(
        f"SELECT id, {_COLUMNS} FROM federations WHERE tenant = %s AND name = %s FOR UPDATE",
        (key.tenant, key.name),
    )
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"federation {key} is not recorded")
    fed = _recorded(row[1:])
    if fed.version != expected_version:
        raise ConflictError(
            f"federation {key} changed since it was read (version {fed.version},"
            f" expected {expected_version}); reload and re-plan"
        )
    return row[0], fed
