"""The daemon's findings outside the federations table, for `reconciler status`.

`step_errors`: the last error of each cycle step (the daemon's `FailureLog` saves one when a
step starts failing, at most once a minute while it fails, and when it recovers).
`spec_findings`: the specs that never became a federation (invalid, denied, or queued),
replaced as a whole by the report step whenever that set changes, which a repository with
no broken or queued spec never does. Part of `Store`.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from psycopg.types.json import Jsonb

from reconciler.model import FederationKey
from reconciler.store.db import Database
from reconciler.store.outbox import federation_filter


@dataclass(frozen=True)
class StepErrorRow:
    step: str
    message: str
    since: datetime
    last_seen: datetime
    count: int
    failing: bool

    def to_json(self) -> dict[str, Any]:
        """The API's object (`from_json` reads it back)."""
        return {
            "step": self.step,
            "message": self.message,
            "since": self.since.isoformat(),
            "lastSeen": self.last_seen.isoformat(),
            "count": self.count,
            "failing": self.failing,
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StepErrorRow:
        return cls(
            step=data["step"],
            message=data["message"],
            since=datetime.fromisoformat(data["since"]),
            last_seen=datetime.fromisoformat(data["lastSeen"]),
            count=int(data["count"]),
            failing=bool(data["failing"]),
        )


@dataclass(frozen=True)
class SpecFindingRow:
    """A spec without a federation: phase `Invalid` (reason `SpecInvalid` or `PolicyDenied`)
    or `Pending` (reason `Queued`)."""

    key: FederationKey
    path: str
    phase: str
    reason: str
    message: str
    problems: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """`status -o json`'s object, and the API's (`from_json` reads it back)."""
        return {
            "tenant": self.key.tenant,
            "name": self.key.name,
            "phase": self.phase,
            "reason": self.reason,
            "recorded": False,
            "specPath": self.path,
            "message": self.message,
            "problems": list(self.problems),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> SpecFindingRow:
        return cls(
            key=FederationKey(data["tenant"], data["name"]),
            path=data["specPath"],
            phase=data["phase"],
            reason=data["reason"],
            message=data["message"],
            problems=tuple(data["problems"]),
        )


class DaemonFindings(Database):
    """Step errors and specs without a federation."""

    def save_step_error(self, error: StepErrorRow) -> None:
        with self._tx() as cur:
            cur.execute(
                "INSERT INTO step_errors (step, message, since, last_seen, count, failing)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (step) DO UPDATE SET"
                " message = EXCLUDED.message, since = EXCLUDED.since,"
                " last_seen = EXCLUDED.last_seen, count = EXCLUDED.count,"
                " failing = EXCLUDED.failing",
                (
                    error.step,
                    error.message,
                    error.since,
                    error.last_seen,
                    error.count,
                    error.failing,
                ),
            )

    def step_errors(self) -> list[StepErrorRow]:
        with self._read() as cur:
            cur.execute(
                "SELECT step, message, since, last_seen, count, failing FROM step_errors"
                " ORDER BY step"
            )
            return [StepErrorRow(*row) for row in cur.fetchall()]

    def replace_spec_findings(self, rows: Sequence[SpecFindingRow]) -> None:
        """The whole set, in one transaction."""
        with self._tx() as cur:
            cur.execute("DELETE FROM spec_findings")
            if rows:
                cur.executemany(
                    "INSERT INTO spec_findings (tenant, name, path, phase, reason, message,"
                    " problems) VALUES (%s, %s, %s, %s, %s, %s, %s)",
                    [
                        (
                            r.key.tenant,
                            r.key.name,
                            r.path,
                            r.phase,
                            r.reason,
                            r.message,
                            Jsonb(list(r.problems)),
                        )
                        for r in rows
                    ],
                )

    def spec_findings(self, federation: FederationKey | str | None = None) -> list[SpecFindingRow]:
        """Specs without a federation (a key, "tenant/name" or a bare name selects)."""
        where, params = federation_filter(federation)
        with self._read() as cur:
            cur.execute(
                "SELECT tenant, name, path, phase, reason, message, problems FROM spec_findings"
                f" WHERE {where} ORDER BY tenant, name",
                params,
            )
            return [
                SpecFindingRow(FederationKey(t, n), path, phase, reason, message, tuple(problems))
                for t, n, path, phase, reason, message, problems in cur.fetchall()
            ]
