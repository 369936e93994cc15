"""Load and validate FederationSpec files: safe YAML, JSON Schema, semantic rules, layout.

The public surface is below; everything else is internal. Callers: the daemon and
`reconciler plan` (`load_repo`, `load_files`), `reconciler validate`, and tests.
No I/O happens outside `load_repo`, `read_specs` and `spec_paths`.
"""

from reconciler.specs.filecheck import validate_document
from reconciler.specs.repo import load_files, load_repo, read_specs, spec_paths
from reconciler.specs.schema import SCHEMA_PATH, SchemaUnavailable, load_schema
from reconciler.specs.yamlsafe import MAX_FILE_BYTES

__all__ = [
    "MAX_FILE_BYTES",
    "SCHEMA_PATH",
    "SchemaUnavailable",
    "load_files",
    "load_repo",
    "load_schema",
    "read_specs",
    "spec_paths",
    "validate_document",
]
