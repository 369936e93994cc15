"""One federation in detail, for `status NAME`, `describe`, `history` and `wait`.

`resolve` turns NAME (`tenant/name` or a bare name) into one key; `load_detail` reads what
the store knows about it; `detail_document` (json/yaml) and `render_detail` (text) show it.
Conditions are derived from the recorded phase with the daemon's own rules
(`daemon.conditions`): the cycle's findings (a fetch error, say) are in the daemon's step
errors, which `status` lists, and in the status report.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from reconciler.cli.output import camel_keys

if TYPE_CHECKING:
    from reconciler.model import Condition, FederationKey, RecordedFederation
    from reconciler.report.best import BestRound
    from reconciler.store import ArtifactRecord, Event, RoundRecord, RunRecord, StatusRow, Store

RECENT = 10  # events and rounds the text shows; json and yaml hold every round


class NameNotFound(Exception):
    """NAME selects no federation, or several (exit 1)."""


def resolve(store: Store, name: str) -> FederationKey:
    keys = sorted({row.key for row in store.status_rows(name)})
    if not keys:
        raise NameNotFound(f"no federation named {name!r} is recorded")
    if len(keys) > 1:
        names = ", ".join(str(k) for k in keys)
        raise NameNotFound(f"{name!r} names several federations ({names}); write tenant/name")
    return keys[0]


@dataclass(frozen=True)
class Detail:
    row: StatusRow
    record: RecordedFederation
    rounds: Sequence[RoundRecord]
    runs: Sequence[RunRecord]
    artifacts: Sequence[ArtifactRecord]
    events: Sequence[Event]

    @property
    def best(self) -> BestRound | None:
        from reconciler.report.best import best_round

        current = [r for r in self.rounds if r.generation == self.record.generation]
        return best_round((r.number, r.metrics) for r in current if r.status == "completed")

    @property
    def conditions(self) -> tuple[Condition, ...]:
        from reconciler.daemon.conditions import Findings, derive

        since = self.record.phase_since or self.row.updated_at
        return derive(self.record, Findings(), {}, stamp(since))


def load_detail(store: Store, key: FederationKey, *, events: int = RECENT) -> Detail:
    [row] = store.status_rows(key)
    return Detail(
        row=row,
        record=store.get(key),
        rounds=store.rounds(key),
        runs=store.runs(key),
        artifacts=store.artifacts(key),
        events=store.recent_events(key, events),
    )


def stamp(moment: datetime | None) -> str:
    return "-" if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def detail_document(d: Detail) -> dict[str, Any]:
    rec, best = d.record, d.best
    return camel_keys(
        {
            "tenant": rec.key.tenant,
            "name": rec.key.name,
            "path": rec.path,
            "phase": rec.phase.value,
            "reason": rec.reason,
            "generation": rec.generation,
            "observed_generation": rec.observed_generation,
            "round": {"current": rec.current_round, "total": rec.total_rounds},
            "attempt": rec.attempt,
            "recoveries": rec.recoveries,
            "last_metrics": dict(d.row.last_metrics),
            "best_round": best_document(best, d.artifacts, rec.generation),
            "checkpoint": artifact_document(d.artifacts[-1]) if d.artifacts else None,
            "conditions": [condition_document(c) for c in d.conditions],
            "rounds": [round_document(r) for r in d.rounds],
            "runs": [run_document(r) for r in d.runs],
            "recent_events": [e.to_json() for e in d.events],
            "created_at": d.row.created_at.isoformat(),
            "updated_at": d.row.updated_at.isoformat(),
        }
    )


def best_document(
    best: BestRound | None, artifacts: Sequence[ArtifactRecord], generation: int
) -> dict[str, Any] | None:
    if best is None:
        return None
    saved = next(
        (a for a in artifacts if (a.generation, a.round) == (generation, best.number)), None
    )
    return {
        "number": best.number,
        "metric": best.metric,
        "value": best.value,
        "checkpoint": saved.uri if saved else None,
    }


def condition_document(c: Condition) -> dict[str, str]:
    return {
        "type": c.type.value,
        "status": c.status,
        "reason": c.reason,
        "message": c.message,
        "lastTransitionTime": c.last_transition_time,
    }


def round_document(r: RoundRecord) -> dict[str, Any]:
    return {
        "generation": r.generation,
        "number": r.number,
        "status": r.status,
        "metrics": dict(r.metrics),
        "started_at": r.started_at.isoformat() if r.started_at else None,
        "completed_at": r.completed_at.isoformat() if r.completed_at else None,
    }


def run_document(r: RunRecord) -> dict[str, Any]:
    return {
        "run_id": r.run_id,
        "generation": r.generation,
        "attempt": r.attempt,
        "status": r.status,
        "sub_status": r.sub_status,
        "details": r.details,
        "created_at": r.created_at.isoformat(),
    }


def artifact_document(a: ArtifactRecord) -> dict[str, Any]:
    return {
        "generation": a.generation,
        "round": a.round,
        "uri": a.uri,
        "sha256": a.sha256,
        "size": a.size,
        "format": a.format,
        "created_at": a.created_at.isoformat(),
    }


def render_detail(d: Detail) -> str:
    from reconciler.cli.status import format_metrics

    rec, best = d.record, d.best
    fields = [
        ("Name", str(rec.key)),
        ("Path", rec.path),
        ("Phase", rec.phase.value + (f" ({rec.reason})" if rec.reason else "")),
        ("Generation", f"{rec.generation} (observed {rec.observed_generation})"),
        ("Round", f"{rec.current_round}/{rec.total_rounds}"),
        ("Attempt", f"{rec.attempt} (recoveries {rec.recoveries})"),
        ("Last metrics", format_metrics(d.row.last_metrics, limit=8) or "-"),
        ("Best round", _best_text(best_document(best, d.artifacts, rec.generation))),
        *_checkpoint_fields(d.artifacts),
        ("Created", stamp(d.row.created_at)),
        ("Updated", stamp(d.row.updated_at)),
    ]
    width = max(len(label) for label, _ in fields) + 2
    lines = [f"{label + ':':<{width}}{value}" for label, value in fields]
    lines += _section("Conditions", _condition_rows(d.conditions))
    lines += _section(_recent("Rounds", len(d.rounds)), _round_rows(d.rounds[-RECENT:]))
    lines += _section("Runs", _run_rows(d.runs))
    lines += _section("Recent events", [["TIME", "TYPE", "DETAILS"], *map(_event_row, d.events)])
    return "\n".join(lines)


def _best_text(best: dict[str, Any] | None) -> str:
    if best is None:
        return "-"
    text = f"{best['number']} ({best['metric']} {best['value']:.4g})"
    return text + (f", checkpoint {best['checkpoint']}" if best["checkpoint"] else "")


def _checkpoint_fields(artifacts: Sequence[ArtifactRecord]) -> list[tuple[str, str]]:
    if not artifacts:
        return [("Checkpoint", "-")]
    a = artifacts[-1]
    return [
        ("Checkpoint", f"{a.uri} (generation {a.generation}, round {a.round})"),
        ("  sha256", a.sha256),
    ]


def _recent(title: str, count: int) -> str:
    return f"{title} (newest {RECENT} of {count})" if count > RECENT else title


def _section(title: str, rows: Sequence[Sequence[str]]) -> list[str]:
    from reconciler.cli.status import table

    if len(rows) <= 1:  # only the headers
        return ["", f"{title}: none"]
    return ["", f"{title}:", *("  " + line for line in table(rows).splitlines())]


def _condition_rows(conditions: Sequence[Condition]) -> list[list[str]]:
    return [["TYPE", "STATUS", "REASON", "SINCE", "MESSAGE"]] + [
        [c.type.value, c.status, c.reason, c.last_transition_time, c.message] for c in conditions
    ]


def _round_rows(rounds: Sequence[RoundRecord]) -> list[list[str]]:
    from reconciler.cli.status import format_metrics

    return [["GEN", "ROUND", "STATUS", "COMPLETED", "METRICS"]] + [
        [
            str(r.generation),
            str(r.number),
            r.status,
            stamp(r.completed_at),
            format_metrics(r.metrics) or "-",
        ]
        for r in rounds
    ]


def _run_rows(runs: Sequence[RunRecord]) -> list[list[str]]:
    return [["GEN", "ATTEMPT", "RUN", "STATUS", "STARTED"]] + [
        [str(r.generation), str(r.attempt), str(r.run_id), _run_status(r), stamp(r.created_at)]
        for r in runs
    ]


def _run_status(r: RunRecord) -> str:
    return f"{r.status}:{r.sub_status}" if r.sub_status else r.status


def _event_row(e: Event) -> list[str]:
    from reconciler.cli.events import payload_text

    return [stamp(e.time), e.type, payload_text(e.payload)]
