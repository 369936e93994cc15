"""What an outbox event means for experiment tracking in MLflow: pure, no I/O, no secrets.

Each federation generation is one MLflow run, found again by its tags (`thunderline.federation`,
`thunderline.generation`), so attempts resumed after a pause or a recovery log to the same
run. `spec_params` flattens the spec into params (never `telemetry`, whose headers are
secrets); `round_metrics` is a completed round's numeric metrics with `step` = the round;
`checkpoint_tags` the latest checkpoint's URI and sha256; `END_STATUS` how a finished
federation ends its run. Called by `reconciler.notify.trackinglane`.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from reconciler import lifecycle
from reconciler.model import FederationKey
from reconciler.notify.mlflowclient import FEDERATION_TAG, GENERATION_TAG

END_STATUS: Mapping[str, str] = {
    "fl.federation.completed": "FINISHED",
    "fl.federation.failed": "FAILED",
    "fl.federation.stopped": "KILLED",
}
TRACKED = frozenset(
    {
        "fl.federation.created",
        "fl.federation.started",
        "fl.federation.resumed",
        lifecycle.UPDATED,
        lifecycle.ROUND_COMPLETED,
        lifecycle.AGGREGATE_COMPLETED,
        *END_STATUS,
    }
)
PREVIOUS_RUN_TAG = "thunderline.previous_run_id"  # the run of the generation this one replaced
REPLACED_BY_TAG = "thunderline.replaced_by_run_id"
PARAM_LIMIT = 500  # characters of a param value MLflow takes everywhere
_SECRET_SECTIONS = frozenset({"telemetry"})  # spec sections never made params


def experiment_name(template: str, key: FederationKey) -> str:
    return template.format_map({"tenant": key.tenant, "name": key.name})


def run_name(key: FederationKey, generation: int) -> str:
    return f"{key.tenant}/{key.name} generation {generation}"


def run_tags(key: FederationKey, generation: int, digest: str) -> dict[str, str]:
    tags = {
        FEDERATION_TAG: str(key),
        GENERATION_TAG: str(generation),
        "thunderline.tenant": key.tenant,
        "thunderline.name": key.name,
    }
    if digest:
        tags["thunderline.spec_digest"] = digest
    return tags


def spec_params(document: Mapping[str, Any]) -> dict[str, str]:
    """`spec` as flat params: `strategy.params.learningRate` -> "0.05"; a list of scalars
    joined by commas, a list of mappings (dataset shards) as its length."""
    spec = document.get("spec") or {}
    params: dict[str, str] = {}
    _flatten({k: v for k, v in spec.items() if k not in _SECRET_SECTIONS}, "", params)
    return params


def _flatten(value: Any, prefix: str, into: dict[str, str]) -> None:
    if isinstance(value, Mapping):
        for key, item in value.items():
            _flatten(item, f"{prefix}{key}" if not prefix else f"{prefix}.{key}", into)
    elif isinstance(value, list) and any(isinstance(v, Mapping | list) for v in value):
        into[f"{prefix}.count"] = str(len(value))
    elif isinstance(value, list):
        into[prefix] = ",".join(_text(v) for v in value)[:PARAM_LIMIT]
    else:
        into[prefix] = _text(value)[:PARAM_LIMIT]


def _text(value: Any) -> str:
    return ("true" if value else "false") if isinstance(value, bool) else str(value)


def round_metrics(payload: Mapping[str, Any]) -> tuple[int, dict[str, float]]:
    """(round, numeric metrics) of a completed round; booleans and text are left out."""
    metrics = payload.get("metrics") or {}
    numbers = {
        str(k): float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not isinstance(v, bool)
    }
    return int(payload.get("round") or 0), numbers


def checkpoint_tags(payload: Mapping[str, Any]) -> dict[str, str]:
    return {
        "thunderline.checkpoint.uri": str(payload.get("uri", "")),
        "thunderline.checkpoint.sha256": str(payload.get("sha256", "")),
        "thunderline.checkpoint.round": str(payload.get("round", "")),
    }


def millis(moment: datetime) -> int:
    return int(moment.timestamp() * 1000)
