"""Render federation statuses into the files under `status/`: pure, values in, texts out.

The daemon's report step calls `render_status(all_statuses)` and passes the result to
`StatusWriter.write`. Output is deterministic (fixed key order, sorted maps and
federations, no clock), so an unchanged status renders byte-identical and the writer
finds nothing to commit. The YAML is the machine-readable record that
`read_status_files` reads back for `reconciler plan --against status`.
"""

from __future__ import annotations

import itertools
import json
import math
import re
from collections.abc import Mapping, Sequence
from typing import Any

from reconciler.model import API_VERSION, Condition, ConditionType, FederationKey
from reconciler.report.markdown import render_index, render_page
from reconciler.report.model import ArtifactStatus, FederationStatus, RoundStatus, rfc3339

STATUS_DIR = "status"
STATUS_KIND = "FederationStatus"
INDEX_PATH = f"{STATUS_DIR}/README.md"
# Characters a YAML reader refuses or folds inside a double-quoted scalar: escape them.
_UNSAFE_CHARS = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]"
)
_PLAIN_TEXT = re.compile(r"[\w .,:;/@+=()#%&*?!'-]*", re.ASCII)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})
_SAFE_SEGMENT = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]*")  # no dots: never "..", never "README.md"


def status_paths(key: FederationKey) -> tuple[str, str]:
    """The (YAML, Markdown) paths of one federation's report, from the repository root."""
    for part in (key.tenant, key.name):
        if not _SAFE_SEGMENT.fullmatch(part):
            raise ValueError(f"federation {key} cannot be written as a file name")
    base = f"{STATUS_DIR}/{key.tenant}/{key.name}"
    return f"{base}.yaml", f"{base}.md"


def render_status(statuses: Sequence[FederationStatus]) -> dict[str, str]:
    """{path: text} for every file under `status/`: one YAML and one page per federation,
    plus `status/README.md` listing them all."""
    ordered = sorted(statuses, key=lambda s: s.key)
    _refuse_duplicates(ordered)
    files: dict[str, str] = {}
    for status in ordered:
        yaml_path, page_path = status_paths(status.key)
        files[yaml_path] = render_yaml(status)
        files[page_path] = render_page(status)
    files[INDEX_PATH] = render_index(ordered)
    return files


def render_yaml(status: FederationStatus) -> str:
    document = {
        "apiVersion": API_VERSION,
        "kind": STATUS_KIND,
        "metadata": {"name": status.key.name, "tenant": status.key.tenant},
        "status": _status_body(status),
    }
    return "\n".join(_block(document, 0)) + "\n"


def _block(value: dict[str, Any] | list[Any], depth: int) -> list[str]:
    """Block-style YAML for a non-empty mapping or sequence of our own fixed layout.

    A small emitter instead of PyYAML's: PyYAML's representer costs ~2 ms a report,
    20 s a cycle at 10,000 federations. Scalars are written so that any YAML 1.1 reader
    (PyYAML included) reads back exactly the value written; a property test checks it.
    """
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines += [f"{pad}{_key(key)}:", *_block(item, depth + 1)]
            else:
                lines.append(f"{pad}{_key(key)}: {_scalar(item)}")
        return lines
    for item in value:
        if isinstance(item, dict | list) and item:
            first, *rest = _block(item, depth + 1)
            lines += [f"{pad}- {first.lstrip()}", *rest]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _key(key: str) -> str:
    """Plain when it is an identifier YAML reads as that string; quoted otherwise."""
    if _PLAIN_KEY.fullmatch(key) and key.lower() not in _YAML11_WORDS:
        return key
    return _scalar(key)


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)  # finite: _metrics turned NaN and infinities into None
        # YAML 1.1 reads "1e-05" as a string: floats need a dot before the exponent.
        return text.replace("e", ".0e") if "e" in text and "." not in text else text
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    text = str(value)
    if _PLAIN_TEXT.fullmatch(text):
        return f'"{text}"'  # nothing to escape: skip json.dumps, the bulk of the cost
    text = json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML string
    return _UNSAFE_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)


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
        "artifact": _artifact(status.artifact),
        "flowerRunIds": list(status.run_ids),
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
        "roundHistory": [_round(r) for r in sorted(status.rounds, key=lambda r: r.number)],
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
