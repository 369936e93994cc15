"""Shared helpers for the spec tests: the corpus and a tiny repository builder."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest

from reconciler.model import SpecProblem

CORPUS = Path(__file__).parent / "corpus"
REPO_ROOT = Path(__file__).resolve().parents[2]
EXPECT = re.compile(r"^# expect: (\S+) @ (\d+)$", re.MULTILINE)


def expectations(text: str) -> set[tuple[str, int]]:
    """The `# expect: FIELD @ LINE` headers of a corpus case ((file) for the whole file)."""
    return {(field, int(line)) for field, line in EXPECT.findall(text)}


def located(problems: list[SpecProblem]) -> set[tuple[str, int]]:
    return {(p.field or "(file)", p.line) for p in problems}


def minimal_document(tenant: str = "acme", name: str = "demo") -> str:
    return (
        (CORPUS / "valid" / "minimal.yaml")
        .read_text()
        .replace("name: minimal", f"name: {name}")
        .replace("tenant: acme", f"tenant: {tenant}")
    )


@pytest.fixture
def make_repo(tmp_path: Path) -> Callable[[dict[str, str | bytes]], Path]:
    """Write {repository path: content} under a fresh folder and return its root."""

    def make(files: dict[str, str | bytes]) -> Path:
        (tmp_path / "specs").mkdir(exist_ok=True)
        for path, content in files.items():
            target = tmp_path / path
            target.parent.mkdir(parents=True, exist_ok=True)
            data = content.encode() if isinstance(content, str) else content
            target.write_bytes(data)
        return tmp_path

    return make
