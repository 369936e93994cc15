"""The Flower runs submitted for each federation generation and attempt, each on its target.

Flower run ids are per SuperLink, so a run is known by (target, run id): two SuperLinks'
run 1 are two runs.

`apply` records a run right after submitting it and looks it up after a crash
(`run_for`), so a retry adopts the run it already started instead of submitting a second
one; the daemon records the runtime's observations (`update_run_statuses`, changes only,
in one statement), so `runs.status` reads e.g. `running` or `finished:completed`. Part of
`Store`.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from reconciler import lifecycle
from reconciler.model import DEFAULT_TARGET, FederationKey, Phase
from reconciler.store.db import Cursor, Database
from reconciler.store.errors import ConflictError, NotFound
from reconciler.store.records import RunRecord

# The events that launch a run (a start, a recovery resubmit, a resume).
LAUNCH_EVENTS = frozenset(
    {
        lifecycle.event_type(Phase.PENDING, Phase.STARTING),
        lifecycle.event_type(Phase.PAUSED, Phase.STARTING),
    }
)


def federation_id(cur: Cursor, key: FederationKey, *, lock: bool = False) -> int:
    """The row id of a recorded federation (locked for this transaction if asked)."""
    suffix = " FOR UPDATE" if lock else ""
    cur.execute(
        f"SELECT id FROM federations WHERE tenant = %s AND name = %s{suffix}",
        (key.tenant, key.name),
    )
    row = cur.fetchone()
    if row is None:
        raise NotFound(f"federation {key} is not recorded")
    return int(row[0])


class Runs(Database):
    """Flower run ids per federation."""

    def record_run(
        self,
        key: FederationKey,
        *,
        generation: int,
        attempt: int,
        run_id: int,
        status: str,
        target: str = DEFAULT_TARGET,
    ) -> None:
        """Record the run submitted for (generation, attempt) on `target`. Repeating the same
        call is a no-op; a different run for the same slot raises `ConflictError` (someone
        else submitted)."""
        with self._tx() as cur:
            fed_id = federation_id(cur, key)
            cur.execute(
                "INSERT INTO runs (federation_id, generation, attempt, run_id, status, target)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT DO NOTHING RETURNING 1",
                (fed_id, generation, attempt, run_id, status, target),
            )
            if cur.fetchone() is not None:
                return
            cur.execute(
                "SELECT federation_id, generation, attempt FROM runs"
                " WHERE target = %s AND run_id = %s",
                (target, run_id),
            )
            if cur.fetchone() != (fed_id, generation, attempt):
                raise ConflictError(
                    f"{key} generation {generation} attempt {attempt} already has another run,"
                    f" or run {run_id} belongs elsewhere"
                )

    def update_run_status(
        self,
        run_id: int,
        status: str,
        sub_status: str = "",
        details: str = "",
        *,
        target: str = DEFAULT_TARGET,
    ) -> None:
        with self._tx() as cur:
            cur.execute(
                "UPDATE runs SET status = %s, sub_status = %s, details = %s, updated_at = now()"
                " WHERE target = %s AND run_id = %s",
                (status, sub_status, details, target, run_id),
            )
            if cur.rowcount == 0:
                raise NotFound(f"run {run_id} is not recorded")

    def update_run_statuses(self, changes: Sequence[tuple[str, int, str, str, str]]) -> int:
        """Record the runtime's (target, run_id, status, sub_status, details) for many runs in
        one statement; rows already holding those values are not rewritten, runs not recorded
        are skipped. Returns how many rows changed."""
        if not changes:
            return 0
        columns = [list(column) for column in zip(*changes, strict=True)]
        with self._tx() as cur:
            cur.execute(
                "UPDATE runs SET status = v.status, sub_status = v.sub_status,"
                " details = v.details, updated_at = now()"
                " FROM unnest(%s::text[], %s::numeric[], %s::text[], %s::text[], %s::text[])"
                " AS v(target, run_id, status, sub_status, details)"
                " WHERE runs.target = v.target AND runs.run_id = v.run_id"
                " AND (runs.status, runs.sub_status, runs.details)"
                " IS DISTINCT FROM (v.status, v.sub_status, v.details)",
                columns,
            )
            return cur.rowcount

    def runs(self, key: FederationKey) -> list[RunRecord]:
        """Every run of the federation, oldest generation and attempt first."""
        with self._read() as cur:
            cur.execute(
                "SELECT r.run_id, r.generation, r.attempt, r.status, r.sub_status, r.details,"
                " r.created_at, r.updated_at, r.target FROM runs r JOIN federations f"
                " ON f.id = r.federation_id WHERE f.tenant = %s AND f.name = %s"
                " ORDER BY r.generation, r.attempt",
                (key.tenant, key.name),
            )
            return [_run(key, row) for row in cur.fetchall()]

    def start_round_of(self, key: FederationKey, generation: int, attempt: int) -> int | None:
        """The round the run of (generation, attempt) was launched to start at, from the
        event of its launch (`fl.federation.started` or `.resumed`); None if not recorded."""
        with self._read() as cur:
            cur.execute(
                "SELECT payload->>'start_round' FROM events WHERE name = %s AND tenant = %s"
                " AND generation = %s AND type = ANY(%s) AND payload->>'attempt' = %s"
                " ORDER BY id DESC LIMIT 1",
                (key.name, key.tenant, generation, list(LAUNCH_EVENTS), str(attempt)),
            )
            row = cur.fetchone()
        return None if row is None or row[0] is None else int(row[0])

    def run_for(self, key: FederationKey, generation: int, attempt: int) -> int | None:
        """The run id recorded for (generation, attempt), if any."""
        found = self.run_and_target_for(key, generation, attempt)
        return None if found is None else found[1]

    def run_and_target_for(
        self, key: FederationKey, generation: int, attempt: int
    ) -> tuple[str, int] | None:
        """(target, run id) of the run recorded for (generation, attempt), if any."""
        with self._read() as cur:
            cur.execute(
                "SELECT r.target, r.run_id FROM runs r JOIN federations f"
                " ON f.id = r.federation_id"
                " WHERE f.tenant = %s AND f.name = %s AND r.generation = %s AND r.attempt = %s",
                (key.tenant, key.name, generation, attempt),
            )
            row = cur.fetchone()
        return None if row is None else (str(row[0]), int(row[1]))


def _run(key: FederationKey, row: tuple[Any, ...]) -> RunRecord:
    run_id, generation, attempt, status, sub_status, details, created, updated, target = row
    return RunRecord(
        key, int(run_id), generation, attempt, status, sub_status, details, created, updated, target
    )
