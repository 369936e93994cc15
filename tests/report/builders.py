"""Status values for report tests."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from reconciler.model import Condition, ConditionType, FederationKey, Phase
from reconciler.report import ArtifactStatus, FederationStatus, RoundStatus

T0 = datetime(2025, 3, 1, 12, 0, 0, tzinfo=UTC)


def status(tenant: str = "team-a", name: str = "coop-chat", **changes: Any) -> FederationStatus:
    fields: dict[str, Any] = {
        "key": FederationKey(tenant, name),
        "path": f"specs/{tenant}/{name}.yaml",
        "phase": Phase.RUNNING,
        "reason": "RoundInProgress",
        "conditions": (
            Condition(ConditionType.RECONCILING, "False", "Idle", "Nothing to do.", "2025-03-01T12:00:00Z"),
            Condition(ConditionType.READY, "True", "Running", "Round 2 of 10 is running.", "2025-03-01T12:00:00Z"),
        ),
        "generation": 2,
        "observed_generation": 2,
        "spec_digest": "d" * 64,
        "revision": "c" * 40,
        "current_round": 2,
        "total_rounds": 10,
        "rounds": (
            RoundStatus(1, "completed", {"accuracy": 0.61, "loss": 1.2}, T0, T0),
            RoundStatus(2, "completed", {"accuracy": 0.74, "loss": 0.8}, T0, T0),
        ),
        "last_metrics": {"loss": 0.8, "accuracy": 0.74},
        "artifact": ArtifactStatus("s3://models/team-a/coop-chat/r2.npz", "e" * 64, 3 * 1024 * 1024, "npz", 2),
        "run_ids": (101, 102),
        "flower_target": "eu",
        "created_at": T0,
        "updated_at": T0,
        "problems": (),
    }  # fmt: skip
    fields.update(changes)
    return FederationStatus(**fields)
