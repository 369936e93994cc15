"""The image, the pre-commit hook and a spec repository's CI install the package with
`pip install` (not editable): whatever the commands read at run time must ship inside it."""

from __future__ import annotations

import json
from pathlib import Path

import reconciler
from reconciler.flowerapp import FAB_DIR
from reconciler.specs import SCHEMA_PATH

PACKAGE = Path(reconciler.__file__).absolute().parent


def test_the_flower_app_bundle_ships_inside_the_package() -> None:
    assert PACKAGE in FAB_DIR.absolute().parents
    assert (FAB_DIR / "pyproject.toml").is_file()


def test_the_spec_schema_ships_inside_the_package() -> None:
    assert PACKAGE in SCHEMA_PATH.absolute().parents
    assert json.loads(SCHEMA_PATH.read_text())["$schema"]
