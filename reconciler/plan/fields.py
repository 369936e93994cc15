"""Field-level diff of two spec documents, and which fields a running federation can take.

Mappings are walked into dotted paths; lists are compared whole (a shard list that changes
is one change). The in-place rules are documented in docs/plan-semantics.md.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from reconciler.plan.model import FieldChange

# Prefixes a running federation can take without a new Flower run. Everything else
# (model, data, strategy, privacy, seed, app, artifacts, client selection) changes what is
# being trained, so it forces a replacement, like Terraform's "forces replacement".
IN_PLACE_PREFIXES = (
    "metadata.labels",
    "spec.rounds.total",
    "spec.rounds.timeoutSeconds",
    "spec.paused",
    "spec.stop",
    "spec.telemetry",
    "spec.constraints",
)

# Fields that only steer the lifecycle (pause/stop); they are shown but are not "updates".
CONTROL_FIELDS = frozenset({"spec.paused", "spec.stop"})

# Secret-bearing fields: a plan says that they changed, never what they hold.
SENSITIVE_PREFIXES = ("spec.telemetry.otlp.headers",)
SENSITIVE = "(sensitive value)"


def forces_replacement(path: str) -> bool:
    return not any(path == p or path.startswith(p + ".") for p in IN_PLACE_PREFIXES)


def _sensitive(path: str) -> bool:
    return any(path == p or path.startswith(p + ".") for p in SENSITIVE_PREFIXES)


def _masked(path: str, value: Any) -> Any:
    return SENSITIVE if value is not None and _sensitive(path) else value


def flatten(value: Any, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """Yield (dotted path, leaf value) pairs; empty mappings are leaves too."""
    if isinstance(value, Mapping) and value:
        for key in value:
            yield from flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def diff(old: Mapping[str, Any], new: Mapping[str, Any]) -> tuple[FieldChange, ...]:
    """Changed leaves between two documents, sorted by path. apiVersion/kind never differ here."""
    before = dict(flatten(old))
    after = dict(flatten(new))
    changes = []
    for path in sorted(before.keys() | after.keys()):
        a, b = before.get(path), after.get(path)
        if a != b:
            changes.append(
                FieldChange(path, _masked(path, a), _masked(path, b), forces_replacement(path))
            )
    return tuple(changes)
