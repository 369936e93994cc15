"""The JSON of `/api/v1/`: the same page models the HTML shows, as plain data. Pure.

Field names are camelCase like the status reports; times are RFC 3339. The OpenAPI document
(`openapi.json` beside this module) describes these shapes.
"""

from __future__ import annotations

from typing import Any

from reconciler.console.pages import Detail, ListModel, LogTail, PlanModel, masked
from reconciler.store import ArtifactRecord, RoundRecord


def _time(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def list_json(model: ListModel) -> dict[str, Any]:
    return {
        "total": model.total,
        "page": model.page,
        "pages": model.pages,
        "items": [
            {
                "tenant": r.key.tenant,
                "name": r.key.name,
                "phase": r.phase,
                "reason": r.reason,
                "currentRound": r.current_round,
                "totalRounds": r.total_rounds,
                "headline": r.metric,
                "age": r.age,
                "labels": dict(r.labels),
            }
            for r in model.rows
        ],
    }


def round_json(r: RoundRecord) -> dict[str, Any]:
    return {
        "generation": r.generation,
        "number": r.number,
        "status": r.status,
        "metrics": dict(r.metrics),
        "startedAt": _time(r.started_at),
        "completedAt": _time(r.completed_at),
    }


def _artifact_json(a: ArtifactRecord) -> dict[str, Any]:
    return {
        "generation": a.generation,
        "round": a.round,
        "uri": a.uri,
        "sha256": a.sha256,
        "size": a.size,
        "format": a.format,
    }


def detail_json(d: Detail) -> dict[str, Any]:
    rec = d.record
    return {
        "tenant": rec.key.tenant,
        "name": rec.key.name,
        "path": rec.path,
        "phase": str(rec.phase),
        "reason": rec.reason,
        "generation": rec.generation,
        "observedGeneration": rec.observed_generation,
        "currentRound": rec.current_round,
        "totalRounds": rec.total_rounds,
        "revision": d.revision or None,
        "conditions": [
            {"type": str(c.type), "status": c.status, "reason": c.reason, "message": c.message}
            for c in d.conditions
        ],
        "rounds": [round_json(r) for r in reversed(d.rounds)],
        "lineage": [
            {
                "generation": g.number,
                "how": g.how,
                "digest": g.digest,
                "attempts": [
                    {"attempt": a.number, "how": a.how, "runId": a.run_id, "status": a.status}
                    for a in g.attempts
                ],
            }
            for g in d.lineage
        ],
        "artifacts": [_artifact_json(a) for a in d.artifacts],
        "runIds": [r.run_id for r in d.runs],
        "spec": masked(rec.document),
        "specUrl": d.spec_url,
    }


def logs_json(tail: LogTail) -> dict[str, Any]:
    return {
        "federation": str(tail.key),
        "runId": tail.run_id,
        "runs": list(tail.runs),
        "lines": list(tail.lines),
        "note": tail.note or None,
    }


def plan_json(model: PlanModel | None) -> dict[str, Any]:
    if model is None:
        return {"available": False}
    return {
        "available": True,
        "revision": model.revision or None,
        "summary": model.summary,
        "actions": [
            {
                "action": a.kind,
                "tenant": a.key.tenant,
                "name": a.key.name,
                "reason": a.reason,
                "details": list(a.lines),
            }
            for a in model.actions
        ],
        "invalidFiles": list(model.invalid_files),
    }
