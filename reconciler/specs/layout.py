"""The repository layout: which paths are specs, and which tenant each one belongs to.

Specs live at `specs/<tenant>/**.yaml` (or `.yml`), paths relative to the repository root
with forward slashes. Used by `filecheck` (tenant of a file) and `repo` (which files to read).
"""

from __future__ import annotations

import re

SPECS_DIR = "specs"
YAML_SUFFIXES = (".yaml", ".yml")
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?$")
DNS_LABEL_MAX = 63


def is_dns_label(value: str) -> bool:
    return len(value) <= DNS_LABEL_MAX and DNS_LABEL.match(value) is not None


def is_spec_path(path: str) -> bool:
    """A YAML file somewhere under specs/ (files directly in specs/ included: they are errors)."""
    return path.startswith(f"{SPECS_DIR}/") and path.lower().endswith(YAML_SUFFIXES)


def tenant_of(path: str) -> str | None:
    """The tenant folder of a spec path, or None for a file directly in specs/."""
    parts = path.split("/")
    if len(parts) < 3 or parts[0] != SPECS_DIR:
        return None
    return parts[1]


def layout_problem(path: str) -> str | None:
    """Why `path` cannot hold a spec, or None."""
    tenant = tenant_of(path)
    if tenant is None:
        return "spec files live in specs/<tenant>/; move this file into its tenant's folder"
    if not is_dns_label(tenant):
        return (
            f"the tenant folder '{tenant}' is not a DNS-1123 label "
            "(lower-case letters, digits and '-', at most 63 characters)"
        )
    return None
