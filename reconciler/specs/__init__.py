"""Load and validate FederationSpec files: safe YAML, JSON Schema, semantic rules, layout.

The public surface is below; everything else is internal. Callers: the daemon and
`reconciler plan` (`load_repo`, `load_files`, or `check_file` + `assemble` for incremental
loading), `reconciler validate`, and tests. No I/O happens outside `load_repo`,
`read_specs` and `spec_paths`.
"""

from reconciler.specs.filecheck import FileResult, check_file, validate_document
from reconciler.specs.layout import is_spec_path
from reconciler.specs.repo import (
    assemble,
    check_files,
    duplicate_problems,
    load_files,
    load_repo,
    read_spec,
    read_specs,
    scan_specs,
    spec_paths,
)
from reconciler.specs.schema import SCHEMA_PATH, SchemaUnavailable, load_schema
from reconciler.specs.yamlsafe import MAX_FILE_BYTES

__all__ = [
    "MAX_FILE_BYTES",
    "SCHEMA_PATH",
    "FileResult",
    "SchemaUnavailable",
    "assemble",
    "check_file",
    "check_files",
    "duplicate_problems",
    "is_spec_path",
    "load_files",
    "load_repo",
    "load_schema",
    "read_spec",
    "read_specs",
    "scan_specs",
    "spec_paths",
    "validate_document",
]
