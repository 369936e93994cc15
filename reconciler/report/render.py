"""Render federation statuses into the files under `status/`: pure, values in, texts out.

The daemon's report step calls `render_status(all_statuses)` and passes the result to
`StatusWriter.write`. Output is deterministic (fixed key order, sorted maps and
federations, no clock), so an unchanged status renders byte-identical and the writer
finds nothing to commit. The YAML is the machine-readable record that
`read_status_files` reads back for `reconciler plan --against status`.
"""

from __future__ import annotations

import itertools
import math
import re
from collections.abc import Mapping, Sequence
from operator import attrgetter
from typing import Any, NamedTuple

from reconciler.model import API_VERSION, Condition, ConditionType, FederationKey
from reconciler.report.best import BestRound
from reconciler.report.files import StatusFiles, blob_id
from reconciler.report.markdown import index_row, render_index, render_page
from reconciler.report.model import (
    ArtifactStatus,
    FederationStatus,
    RoundStatus,
    best_of,
    rfc3339,
    shown_rounds,
)
from reconciler.report.yamltext import dump_yaml

STATUS_DIR = "status"
STATUS_KIND = "FederationStatus"
INDEX_PATH = f"{STATUS_DIR}/README.md"
_BY_KEY = attrgetter("key")
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # no dots: never "..", never "README.md"


def writable(key: FederationKey) -> bool:
    """Whether the key can name a report file (a spec in a hostile folder may not)."""
    return all(_SAFE_SEGMENT.fullmatch(part) for part in (key.tenant, key.name))


def status_paths(key: FederationKey) -> tuple[str, str]:
    """The (YAML, Markdown) paths of one federation's report, from the repository root."""
    if not writable(key):
        raise ValueError(f"federation {key} cannot be written as a file name")
    base = f"{STATUS_DIR}/{key.tenant}/{key.name}"
    return f"{base}.yaml", f"{base}.md"


def render_status(statuses: Sequence[FederationStatus]) -> dict[str, str]:
    """{path: text} for every file under `status/`: one YAML and one page per federation,
    plus `status/README.md` listing them all."""
    ordered = sorted(statuses, key=_BY_KEY)
    _refuse_duplicates(ordered)
    files: dict[str, str] = {}
    for status in ordered:
        yaml_path, page_path = status_paths(status.key)
        files[yaml_path] = render_yaml(status)
        files[page_path] = render_page(status)
    files[INDEX_PATH] = render_index(ordered)
    return files


class CachedRenderer:
    """`render_status` with memory: a federation whose status equals the one rendered last
    time is not rendered again (10,000 pages take seconds; one changed page, milliseconds).
    It keeps each status with the blob ids of its two files, not their texts: an unchanged
    file is rendered again only if the writer finds the branch lacks it."""

    def __init__(self) -> None:
        self._done: dict[FederationKey, _Rendered] = {}

    def __call__(self, statuses: Sequence[FederationStatus]) -> StatusFiles:
        ordered = sorted(statuses, key=_BY_KEY)
        _refuse_duplicates(ordered)
        done: dict[FederationKey, _Rendered] = {}
        fresh: dict[str, str] = {}  # texts rendered in this call
        ids: dict[str, str] = {}
        for status in ordered:
            cached = self._done.get(status.key)
            # Identity first: an unchanged status is usually the very same object.
            if cached is None or (cached.status is not status and cached.status != status):
                yaml_path, page_path = status_paths(status.key)
                fresh[yaml_path], fresh[page_path] = render_yaml(status), render_page(status)
                yaml_id, page_id = blob_id(fresh[yaml_path]), blob_id(fresh[page_path])
                cached = _Rendered(
                    status, yaml_path, yaml_id, page_path, page_id, index_row(status)
                )
            done[status.key] = cached
            ids[cached.yaml_path], ids[cached.page_path] = cached.yaml_id, cached.page_id
        fresh[INDEX_PATH] = render_index(ordered, row=lambda s: done[s.key].index_row)
        ids[INDEX_PATH] = blob_id(fresh[INDEX_PATH])
        self._done = done
        return StatusFiles(ids, lambda path: fresh.get(path) or _render_again(path, done))


class _Rendered(NamedTuple):
    status: FederationStatus
    yaml_path: str
    yaml_id: str
    page_path: str
    page_id: str
    index_row: str


def _render_again(path: str, done: Mapping[FederationKey, _Rendered]) -> str:
    """The text of a file whose status was rendered in an earlier call."""
    stem, _, suffix = path.removeprefix(f"{STATUS_DIR}/").rpartition(".")
    tenant, _, name = stem.partition("/")
    status = done[FederationKey(tenant, name)].status
    return render_yaml(status) if suffix == "yaml" else render_page(status)


def render_yaml(status: FederationStatus) -> str:
    document = {
        "apiVersion": API_VERSION,
        "kind": STATUS_KIND,
        "metadata": {"name": status.key.name, "tenant": status.key.tenant},
        "status": _status_body(status),
    }
    return dump_yaml(document)


def _status_body(status: FederationStatus) -> dict[str, Any]:
    return {
        "phase": status.phase.value,
        "reason": status.reason,
        "observedGeneration": status.observed_generation,
        "generation": status.generation,
        "specPath": status.path,
        "specDigest": status.spec_digest,
        "revision": status.revision,
        "rounds": {"current": status.current_round, "total": status.total_rounds},
        "lastMetrics": _metrics(status.last_metrics),
        "bestRound": _best_round(best_of(status), status.artifact),
        "artifact": _artifact(status.artifact),
        "flowerRunIds": list(status.run_ids),
        "flowerTarget": status.flower_target,
        "conditions": [
            {
                "type": c.type.value,
                "status": c.status,
                "reason": c.reason,
                "message": c.message,
                "lastTransitionTime": c.last_transition_time,
            }
            for c in sorted(status.conditions, key=_condition_order)
        ],
        "createdAt": rfc3339(status.created_at),
        "updatedAt": rfc3339(status.updated_at),
        "problems": list(status.problems),
        "roundHistory": [_round(r) for r in shown_rounds(status)],
    }


def _condition_order(condition: Condition) -> int:
    return list(ConditionType).index(condition.type)


def _round(entry: RoundStatus) -> dict[str, Any]:
    return {
        "number": entry.number,
        "status": entry.status,
        "metrics": _metrics(entry.metrics),
        "startedAt": rfc3339(entry.started_at),
        "completedAt": rfc3339(entry.completed_at),
    }


def _best_round(best: BestRound | None, artifact: ArtifactStatus | None) -> dict[str, Any] | None:
    """The best round; its checkpoint when the latest artifact is that round's."""
    if best is None:
        return None
    saved = artifact is not None and artifact.round == best.number
    return {
        "number": best.number,
        "metric": best.metric,
        "value": best.value,
        "checkpoint": artifact.uri if saved and artifact else None,
    }


def _artifact(artifact: ArtifactStatus | None) -> dict[str, Any] | None:
    if artifact is None:
        return None
    return {
        "uri": artifact.uri,
        "sha256": artifact.sha256,
        "size": artifact.size,
        "format": artifact.format,
        "round": artifact.round,
    }


def _metrics(metrics: Mapping[str, float]) -> dict[str, float | None]:
    """Sorted by name; NaN and infinities become null (YAML readers disagree on them)."""
    values = {name: float(metrics[name]) for name in sorted(metrics)}
    return {name: (v if math.isfinite(v) else None) for name, v in values.items()}


def _refuse_duplicates(ordered: Sequence[FederationStatus]) -> None:
    for before, after in itertools.pairwise(ordered):
        if before.key == after.key:
            raise ValueError(f"two statuses for federation {after.key}")
