"""Check one spec file completely: YAML, schema, semantic rules, layout.

`check_file(path, content)` is the unit `repo` runs for every file; it never raises for any
content and reports every problem it finds in the file. `validate_document` checks a document
that is already loaded (no line numbers). Rules across files are `repo`'s job.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from yaml.nodes import Node

from reconciler.model import (
    UNKNOWN_TARGETS,
    Document,
    FederationKey,
    SpecProblem,
    TargetNames,
    canonical_text,
    spec_target,
    text_digest,
)
from reconciler.specs.apps import repo_app_findings
from reconciler.specs.layout import layout_problem, name_findings, tenant_of
from reconciler.specs.nodes import field_name, locate
from reconciler.specs.policy import DEFAULT_POLICY, Policy, policy_findings
from reconciler.specs.rules import RuleFinding, reserved_findings, rule_findings
from reconciler.specs.salvage import salvage_name
from reconciler.specs.schema import schema_findings
from reconciler.specs.yamlsafe import Finding, YamlRejected, parse_document


@dataclass(frozen=True, slots=True)
class FileResult:
    """The outcome for one file. `document` is set only when `problems` is empty; `key`
    is the (tenant, name) the file declares, when that can be read at all."""

    path: str
    key: FederationKey | None
    document: Mapping[str, Any] | None
    problems: tuple[SpecProblem, ...]
    name_at: tuple[int, int] = (0, 0)  # line and column of metadata.name, when known
    digest: str = ""  # canonical digest of `document`, when valid
    warnings: tuple[SpecProblem, ...] = ()  # reserved fields set: valid, but they do nothing


def check_file(
    path: str,
    content: bytes,
    *,
    repo_root: Path | None = None,
    policy: Policy = DEFAULT_POLICY,
    verdict_only: bool = False,
    targets: TargetNames = UNKNOWN_TARGETS,
) -> FileResult:
    """Everything wrong with the spec file at repository path `path`, its tenant's `policy`
    and the daemon's `targets` (a `spec.target` it does not drive) included; without
    `targets` (`reconciler validate`), only the name's shape is checked (the schema). Never raises: a bug met by one odd file becomes that file's problem instead of
    hiding every other file. With `repo_root` (the checkout), a spec naming an app folder is
    checked against it. With `verdict_only` (`reconciler validate`), a valid file's result
    carries no document and no digest: packing and hashing it is ~10 % of checking it."""
    try:
        return _check(path, content, repo_root, policy, targets, keep=not verdict_only)
    except Exception as exc:  # the last line of defence; tests fuzz for it to stay unused
        message = (
            f"internal error while checking this file ({type(exc).__name__}); please report it"
        )
        return FileResult(path, None, None, (SpecProblem(path, 0, 0, "", message),))


def _check(
    path: str,
    content: bytes,
    repo_root: Path | None,
    policy: Policy,
    targets: TargetNames,
    *,
    keep: bool,
) -> FileResult:
    tenant = tenant_of(path)
    layout = layout_problem(path)
    found = [Finding(0, 0, "", layout)] if layout else []
    try:
        parsed = parse_document(content)
    except YamlRejected as exc:
        name = salvage_name(content)
        return _result(path, tenant, name, [*found, *exc.findings])
    found += _document_findings(parsed.data, parsed.node, folder_tenant=tenant)
    found += _located(name_findings(path, parsed.data), parsed.node)
    denied = policy_findings(parsed.data, tenant, policy)
    found += [replace(f, policy=True) for f in _located(denied, parsed.node)]
    found += _located(target_findings(parsed.data, targets), parsed.node)
    if repo_root is not None:
        found += _located(repo_app_findings(parsed.data, repo_root), parsed.node)
    name_at = locate(parsed.node, ("metadata", "name"))
    kept = parsed.data if keep else None
    result = _result(path, tenant, _name(parsed.data), found, name_at=name_at, document=kept)
    reserved = _located(reserved_findings(parsed.data), parsed.node)
    if not reserved:
        return result
    return replace(result, warnings=tuple(_problem(path, f) for f in _sorted(reserved)))


def validate_document(
    document: Any, *, path: str, policy: Policy = DEFAULT_POLICY
) -> list[SpecProblem]:
    """Schema, rule and policy problems of an already-loaded document (lines unknown: 0)."""
    tenant = tenant_of(path)
    found = _document_findings(document, None, folder_tenant=tenant)
    found += [
        replace(f, policy=True) for f in _located(policy_findings(document, tenant, policy), None)
    ]
    return [_problem(path, f) for f in _sorted(found)]


def _document_findings(
    document: Any, root: Node | None, *, folder_tenant: str | None
) -> list[Finding]:
    found = schema_findings(document, root)
    return found + _located(rule_findings(document, folder_tenant=folder_tenant), root)


def target_findings(document: Any, targets: TargetNames) -> list[RuleFinding]:
    """A `spec.target` the daemon does not drive, or none named where it drives several."""
    named = spec_target(document) if isinstance(document, Mapping) else None
    problem = targets.problem(named)
    if not problem:
        return []
    return [(("spec", "target") if named is not None else ("spec",), problem)]


def _located(findings: list[RuleFinding], root: Node | None) -> list[Finding]:
    out = []
    for where, message in findings:
        line, column = locate(root, where)
        out.append(Finding(line, column, field_name(where), message))
    return out


def _name(document: Any) -> str | None:
    metadata = document.get("metadata") if isinstance(document, dict) else None
    name = metadata.get("name") if isinstance(metadata, dict) else None
    return name if isinstance(name, str) and name else None


def _result(
    path: str,
    tenant: str | None,
    name: str | None,
    found: list[Finding],
    *,
    name_at: tuple[int, int] = (0, 0),
    document: Any = None,
) -> FileResult:
    """The verdict, with `document` (the parsed data, to keep) packed when the file is valid."""
    key = FederationKey(tenant, name) if tenant and name else None
    problems = tuple(_problem(path, f) for f in _sorted(found))
    if problems or document is None:
        return FileResult(path, key, None, problems, name_at)
    # Hashed once here, when the file is checked, not on every assembly of the repository;
    # kept packed, as the daemon holds every valid file's result between cycles.
    text = canonical_text(document)
    digest = text_digest(text)
    packed = Document.with_digest(digest, text)
    return FileResult(path, key, packed, problems, name_at, digest)


def _sorted(found: list[Finding]) -> list[Finding]:
    return sorted(found, key=lambda f: (f.line, f.column, f.field, f.message))


def _problem(path: str, finding: Finding) -> SpecProblem:
    return SpecProblem(
        path, finding.line, finding.column, finding.field, finding.message, finding.policy
    )
