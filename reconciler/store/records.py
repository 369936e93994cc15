"""Values the store hands back besides `RecordedFederation`: events, runs, rounds, artifacts,
clients and the status rows `reconciler status` prints. Plain frozen dataclasses, no I/O.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.model import DEFAULT_TARGET, FederationKey, Phase


@dataclass(frozen=True)
class Event:
    """One outbox row. `key` and `generation` are None for events about no federation."""

    id: int
    type: str
    key: FederationKey | None
    generation: int | None
    payload: Mapping[str, Any]
    time: datetime

    def to_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.type,
            "federation": str(self.key) if self.key else None,
            "generation": self.generation,
            "payload": dict(self.payload),
            "time": self.time.isoformat(),
        }


@dataclass(frozen=True)
class RunRecord:
    """A Flower run the reconciler submitted for one generation and attempt."""

    key: FederationKey
    run_id: int
    generation: int
    attempt: int
    status: str
    sub_status: str
    details: str
    created_at: datetime
    updated_at: datetime
    target: str = DEFAULT_TARGET  # the SuperLink it ran on (run ids are per SuperLink)


@dataclass(frozen=True)
class RoundRecord:
    key: FederationKey
    generation: int
    number: int
    status: str  # started | completed
    metrics: Mapping[str, Any]
    started_at: datetime | None
    completed_at: datetime | None


@dataclass(frozen=True)
class ArtifactRecord:
    key: FederationKey
    generation: int
    round: int
    uri: str
    sha256: str
    size: int
    format: str
    created_at: datetime


@dataclass(frozen=True)
class StatusRow:
    """What `reconciler status` shows for one federation."""

    key: FederationKey
    phase: Phase
    reason: str
    generation: int
    observed_generation: int
    current_round: int
    total_rounds: int
    last_metrics: Mapping[str, Any]
    artifact_uri: str | None
    artifact_sha256: str | None
    created_at: datetime
    updated_at: datetime

    def to_json(self) -> dict[str, Any]:
        """`status -o json`'s object, and the API's (`from_json` reads it back)."""
        return {
            "tenant": self.key.tenant,
            "name": self.key.name,
            "phase": self.phase.value,
            "reason": self.reason,
            "generation": self.generation,
            "observedGeneration": self.observed_generation,
            "round": {"current": self.current_round, "total": self.total_rounds},
            "lastMetrics": dict(self.last_metrics),
            "artifact": (
                {"uri": self.artifact_uri, "sha256": self.artifact_sha256}
                if self.artifact_uri
                else None
            ),
            "createdAt": self.created_at.isoformat(),
            "updatedAt": self.updated_at.isoformat(),
        }

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StatusRow:
        artifact = data["artifact"] or {}
        return cls(
            key=FederationKey(data["tenant"], data["name"]),
            phase=Phase(data["phase"]),
            reason=data["reason"],
            generation=int(data["generation"]),
            observed_generation=int(data["observedGeneration"]),
            current_round=int(data["round"]["current"]),
            total_rounds=int(data["round"]["total"]),
            last_metrics=dict(data["lastMetrics"]),
            artifact_uri=artifact.get("uri"),
            artifact_sha256=artifact.get("sha256"),
            created_at=datetime.fromisoformat(data["createdAt"]),
            updated_at=datetime.fromisoformat(data["updatedAt"]),
        )
