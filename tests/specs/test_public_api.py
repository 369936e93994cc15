"""The package exports exactly its public surface, and `validate` stays light to import."""

from __future__ import annotations

import subprocess
import sys

import reconciler.specs


def test_exported_names() -> None:
    assert set(reconciler.specs.__all__) == {
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
    }
    assert reconciler.specs.SCHEMA_PATH.is_file()


def test_validate_document_checks_loaded_data_without_lines() -> None:
    problems = reconciler.specs.validate_document({"kind": "FederationSpec"}, path="specs/a/x.yaml")

    assert {p.field for p in problems} == {"apiVersion", "metadata", "spec"}
    assert {(p.line, p.column) for p in problems} == {(0, 0)}


def test_specs_never_import_heavy_or_lower_layers() -> None:
    code = (
        "import sys, reconciler.specs, reconciler.cli.validate;"
        "banned = ('flwr', 'boto3', 'psycopg', 'git', 'reconciler.store', 'reconciler.runtime',"
        " 'reconciler.plan');"
        "print([m for m in sys.modules if m.split('.')[0] in banned or m in banned])"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)

    assert out.stdout.strip() == "[]"
