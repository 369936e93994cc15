"""Every invalid corpus case reports exactly the fields and lines it declares; every valid
case and the example repository load without a problem."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.model import FederationKey
from reconciler.specs import load_files, load_repo
from tests.support.policies import OPEN_POLICY

from .conftest import CORPUS, REPO_ROOT, expectations, located

INVALID = sorted((CORPUS / "invalid").glob("*.yaml"))
VALID = sorted((CORPUS / "valid").glob("*.yaml"))


def test_corpus_is_big_enough() -> None:
    assert len(INVALID) >= 40
    assert all(expectations(case.read_text()) for case in INVALID)


@pytest.mark.parametrize("case", INVALID, ids=lambda p: p.stem)
def test_invalid_case_names_its_field_and_line(case: Path) -> None:
    path = "specs/acme/base.yaml"  # every case names itself `base` (the file is named for the case)

    state = load_files({path: case.read_bytes()}, policy=OPEN_POLICY)

    assert not state.specs
    problems = list(state.problems[path])
    assert located(problems) == expectations(case.read_text()), [str(p) for p in problems]
    assert all(p.file == path and p.message for p in problems)


@pytest.mark.parametrize("case", VALID, ids=lambda p: p.stem)
def test_valid_case_loads(case: Path) -> None:
    path = f"specs/acme/{case.name}"

    state = load_files({path: case.read_bytes()}, policy=OPEN_POLICY)

    assert state.problems == {}
    assert list(state.specs) == [FederationKey("acme", case.stem)]


def test_example_repository_is_valid_and_varied() -> None:
    state = load_repo(REPO_ROOT)

    assert state.problems == {}
    specs = state.specs.values()
    assert len(specs) >= 3
    assert len({key.tenant for key in state.specs}) >= 2
    strategies = {s.spec["strategy"]["name"] for s in specs}
    assert strategies >= {"fedavg", "fedprox", "custom"}
    custom = [s for s in specs if s.spec["strategy"]["name"] == "custom"]
    assert any(s.spec.get("privacy", {}).get("dp", {}).get("enabled") for s in custom)


def test_example_specs_point_editors_at_the_schema() -> None:
    for spec in (REPO_ROOT / "specs").rglob("*.yaml"):
        first = spec.read_text().splitlines()[0]
        assert first == "# yaml-language-server: $schema=../../schema/federation-spec.schema.json"
        assert (spec.parent / "../../schema/federation-spec.schema.json").resolve().is_file()
