"""The repository layout: which paths are specs, and which tenant each one belongs to.

A spec lives at exactly `specs/<tenant>/<name>.yaml` (or `.yml`), where `<tenant>` is the
folder's name and `<name>` is the spec's `metadata.name`; paths are relative to the
repository root, with forward slashes. Every file under `specs/` whose name ends in `.yaml`
or `.yml`, in any case and at any depth, hidden or not, is a *candidate*: it is read and
checked, and each way it departs from that layout is an error at its path, so that no
YAML file under `specs/` is ever silently skipped. Anything else under `specs/` (a
README.md, a .gitkeep) is not a spec and is ignored. Used by `filecheck` (tenant of a file,
layout and name problems), `repo` (which files `validate` and `plan` read) and the daemon's
`desired` cache (which blobs it reads), so all of them agree on what a spec is.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from reconciler.specs.nodes import Path

SPECS_DIR = "specs"
YAML_SUFFIXES = (".yaml", ".yml")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_MAX = 63


def is_dns_label(value: str) -> bool:
    return len(value) <= DNS_LABEL_MAX and DNS_LABEL.match(value) is not None


def is_spec_path(path: str) -> bool:
    """A candidate: a YAML file anywhere under specs/ (files directly in specs/, in
    sub-folders, hidden ones and upper-case suffixes included: they are errors, not skipped)."""
    return path.startswith(f"{SPECS_DIR}/") and path.lower().endswith(YAML_SUFFIXES)


def tenant_of(path: str) -> str | None:
    """The tenant folder of a spec path, or None for a file directly in specs/."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != SPECS_DIR:
        return None
    return parts[1]


def reports_link(path: str) -> bool:
    """Whether a symlink (or submodule) at `path` under specs/ is reported: when it stands
    where a spec could be (a candidate path, or a name without a suffix, which may be a
    linked folder). Links are never followed; a linked README.md is left alone."""
    name = path.rsplit("/", 1)[-1]
    return is_spec_path(path) or "." not in name


def layout_problem(path: str) -> str | None:
    """Why the candidate `path` cannot hold a spec, or None."""
    tenant = tenant_of(path)
    if tenant is None:
        return "spec files live in specs/<tenant>/; move this file into its tenant's folder"
    if not is_dns_label(tenant):
        return (
            f"the tenant folder '{tenant}' is not a DNS-1123 label "
            "(lower-case letters, digits and '-', at most 63 characters)"
        )
    parts = path.split("/")
    name = parts[-1]
    if len(parts) > 3:
        within = "/".join(parts[2:-1])
        return (
            f"spec files live directly in specs/{tenant}/, not in a sub-folder ('{within}/'); "
            f"move it to specs/{tenant}/{name}"
        )
    if name.startswith("."):
        return (
            f"'{name}' is a hidden file: a spec file is named after its metadata.name "
            f"(specs/{tenant}/<name>.yaml)"
        )
    suffix = name[name.rfind(".") :]
    if suffix not in YAML_SUFFIXES:
        return f"the suffix '{suffix}' must be lower-case: rename the file to {_stem(name)}.yaml"
    return None


def name_findings(path: str, document: Any) -> list[tuple[Path, str]]:
    """A problem at metadata.name when it is a valid name but not the file's name: the
    file `specs/acme/x.yaml` holds federation `x`, so that a reader of the repository (and
    a reviewer of a rename) sees which federation a file is. Names that are not DNS labels,
    and hidden files, already have their own error."""
    metadata = document.get("metadata") if isinstance(document, Mapping) else None
    name = metadata.get("name") if isinstance(metadata, Mapping) else None
    file = path.rsplit("/", 1)[-1]
    if not isinstance(name, str) or not is_dns_label(name) or file.startswith("."):
        return []
    if _stem(file) == name:
        return []
    message = f"metadata.name '{name}' does not match the file name '{file}'"
    return [(("metadata", "name"), f"{message}; rename the file to {name}.yaml")]


def _stem(name: str) -> str:
    for suffix in YAML_SUFFIXES:
        if name.lower().endswith(suffix):
            return name[: -len(suffix)]
    return name
