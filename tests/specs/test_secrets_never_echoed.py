"""OTLP headers are secrets: no problem message, text or JSON output ever contains them."""

from __future__ import annotations

import pytest

from reconciler.cli import main
from reconciler.specs import load_files

from .conftest import minimal_document

SECRET = "Bearer-s3cr3t-t0ken"


def with_telemetry(block: str) -> bytes:
    return (minimal_document() + "  telemetry:\n    otlp:\n" + block).encode()


CASES = {
    "value of the wrong type": "      headers:\n        x-num: 9876543210\n",
    "headers written as a string": f"      headers: {SECRET}\n",
    "headers written as a list": f"      headers: [{SECRET}]\n",
    "nested value": f"      headers:\n        authorization: {{token: {SECRET}}}\n",
    "a YAML 1.1 boolean": "      headers:\n        x-enabled: yes\n",
    "a tag": f"      headers:\n        authorization: !!binary {SECRET}\n",
    "a syntax error on the line": f"      headers:\n        authorization: [{SECRET}\n",
}


@pytest.mark.parametrize("block", CASES.values(), ids=CASES.keys())
def test_header_values_never_appear_in_problems(block: str) -> None:
    state = load_files({"specs/acme/demo.yaml": with_telemetry(block)})

    problems = state.problems["specs/acme/demo.yaml"]
    assert problems
    text = " ".join(str(p) for p in problems)
    for hidden in (SECRET, "9876543210", "yes"):
        assert hidden not in text


def test_the_cli_hides_them_too(tmp_path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    spec = tmp_path / "specs" / "acme" / "demo.yaml"
    spec.parent.mkdir(parents=True)
    spec.write_bytes(with_telemetry(f"      headers: {SECRET}\n"))

    for output in ("text", "json"):
        assert main(["validate", str(tmp_path), "--output", output]) == 1
        captured = capsys.readouterr()
        assert "headers" in captured.out
        assert SECRET not in captured.out + captured.err
