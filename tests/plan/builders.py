"""Small builders of specs and records for planner tests (no YAML, no database)."""

from __future__ import annotations

import copy
from dataclasses import replace
from typing import Any

from reconciler.model import FederationKey, FederationSpec, Phase, RecordedFederation

BASE_DOC: dict[str, Any] = {
    "apiVersion": "thunderline.okocorp/v1",
    "kind": "FederationSpec",
    "metadata": {"name": "digits", "tenant": "acme"},
    "spec": {
        "modelRef": {"uri": "models/init.npz", "sha256": "a" * 64, "format": "npz"},
        "strategy": {"name": "fedavg", "params": {"minAvailable": 3}},
        "rounds": {"total": 5, "timeoutSeconds": 60},
        "datasetSpec": {
            "schema": "npz",
            "shards": [{"uri": "data/s0.npz"}, {"uri": "data/s1.npz"}],
        },
        "artifacts": {"outputBucket": "s3://ckpt"},
    },
}


def spec(name: str = "digits", tenant: str = "acme", **changes: Any) -> FederationSpec:
    """A spec; `changes` maps dotted paths under spec (rounds__total=10) to new values."""
    doc = copy.deepcopy(BASE_DOC)
    doc["metadata"] = {"name": name, "tenant": tenant}
    for dotted, value in changes.items():
        *parents, leaf = dotted.split("__")
        node = doc["spec"]
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return FederationSpec(FederationKey(tenant, name), f"specs/{tenant}/{name}.yaml", doc)


def record(of: FederationSpec, phase: Phase, **fields: Any) -> RecordedFederation:
    base = RecordedFederation(
        key=of.key,
        path=of.path,
        document=of.document,
        digest=of.digest,
        generation=1,
        observed_generation=1,
        phase=phase,
        total_rounds=of.rounds_total,
        attempt=1,
    )
    return replace(base, **fields)
