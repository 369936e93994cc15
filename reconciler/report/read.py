"""Read committed status reports back as recorded state, for `reconciler plan --against status`.

A pull-request check has the repository but no database: the YAML files under `status/`
say what the reconciler last recorded, which is enough to plan against. The spec document
itself is not in a report (it may hold secrets and it is in `specs/` anyway), so
`RecordedFederation.document` is `{}`; the planner compares `digest` (the recorded
`specDigest`) and diffs fields only where it has the document. A repository with no
`status/` yields an empty mapping: nothing recorded yet. Reports of specs that never became a
federation (phase `Invalid`, or generation 0 while queued) are skipped: nothing is recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from reconciler.model import API_VERSION, FederationKey, Phase, RecordedFederation
from reconciler.report.render import STATUS_KIND

_Loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class StatusFormatError(Exception):
    """A status file is not a FederationStatus this version can read: needs a person
    (or the next reconciler cycle, which rewrites it)."""

    def __init__(self, path: str, message: str) -> None:
        super().__init__(f"{path}: {message}")
        self.path = path


def read_status_files(files: Mapping[str, bytes]) -> dict[FederationKey, RecordedFederation]:
    """Recorded federations from {path: content} of the files under `status/`; pages and
    other non-YAML files are ignored."""
    recorded: dict[FederationKey, RecordedFederation] = {}
    for path in sorted(files):
        if not path.endswith(".yaml"):
            continue
        federation = _parse(path, files[path])
        if federation is None:
            continue  # a spec that never became a federation: nothing is recorded
        if federation.key in recorded:
            raise StatusFormatError(path, f"second report for federation {federation.key}")
        recorded[federation.key] = federation
    return recorded


def _parse(path: str, content: bytes) -> RecordedFederation | None:
    try:
        document = yaml.load(content, Loader=_Loader)
    except yaml.YAMLError as exc:
        raise StatusFormatError(path, f"not valid YAML: {exc}") from None
    if not isinstance(document, dict) or document.get("kind") != STATUS_KIND:
        raise StatusFormatError(path, f"not a {STATUS_KIND} document")
    if document.get("apiVersion") != API_VERSION:
        raise StatusFormatError(path, f"apiVersion is not {API_VERSION}")
    status = document.get("status")
    if isinstance(status, dict) and (
        status.get("phase") == "Invalid" or status.get("generation") == 0
    ):
        return None  # phase Invalid, or queued before its first record (generation 0)
    try:
        return _recorded(document)
    except (KeyError, TypeError, ValueError) as exc:
        raise StatusFormatError(path, f"missing or malformed field: {exc}") from None


def _recorded(document: Mapping[str, Any]) -> RecordedFederation:
    metadata, status = document["metadata"], document["status"]
    rounds = status.get("rounds") or {}
    return RecordedFederation(
        key=FederationKey(tenant=str(metadata["tenant"]), name=str(metadata["name"])),
        path=str(status.get("specPath") or ""),
        document={},
        digest=str(status.get("specDigest") or ""),
        generation=int(status.get("generation") or 0),
        observed_generation=int(status.get("observedGeneration") or 0),
        phase=Phase(status["phase"]),
        reason=str(status.get("reason") or ""),
        current_round=int(rounds.get("current") or 0),
        total_rounds=int(rounds.get("total") or 0),
    )
