"""model.Document: a spec document held packed behaves as the plain mapping it holds."""

from __future__ import annotations

import json
from pathlib import Path

from reconciler.model import Document, FederationSpec, canonical_digest, canonical_text
from reconciler.specs.filecheck import check_file

EXAMPLE = Path(__file__).parents[2] / "specs" / "acme" / "digits-fedavg.yaml"
PLAIN = {"spec": {"rounds": {"total": 3}, "paused": False}, "kind": "FederationSpec"}


def test_reads_as_the_mapping_it_was_made_from() -> None:
    doc = Document.of(PLAIN)
    assert doc == PLAIN
    assert PLAIN == doc  # noqa: SIM300  (this order too: dict.__eq__ defers to Mapping)
    assert dict(doc) == PLAIN and len(doc) == 2 and set(doc) == {"spec", "kind"}
    assert doc["spec"]["rounds"]["total"] == 3 and doc.get("missing") is None
    assert json.loads(doc.json_text()) == PLAIN
    assert doc != {**PLAIN, "kind": "Other"}


def test_digest_is_that_of_the_plain_document() -> None:
    assert canonical_digest(Document.of(PLAIN)) == canonical_digest(PLAIN)
    assert canonical_text(Document(json.dumps(PLAIN))) == canonical_text(PLAIN)
    spec = FederationSpec(key=("a", "b"), path="specs/a/b.yaml", document=Document.of(PLAIN))  # type: ignore[arg-type]
    assert spec.digest == canonical_digest(PLAIN) and spec.rounds_total == 3 and not spec.paused


def test_a_checked_file_keeps_its_document_packed_and_smaller() -> None:
    result = check_file("specs/acme/digits-fedavg.yaml", EXAMPLE.read_bytes())
    assert isinstance(result.document, Document)
    assert result.digest == canonical_digest(result.document)
    assert len(result.document._packed) < 0.7 * len(canonical_text(result.document))


def test_a_verdict_only_check_gives_the_verdict_and_keeps_nothing() -> None:
    full = check_file("specs/acme/digits-fedavg.yaml", EXAMPLE.read_bytes())
    verdict = check_file("specs/acme/digits-fedavg.yaml", EXAMPLE.read_bytes(), verdict_only=True)

    assert (verdict.key, verdict.problems, verdict.name_at) == (full.key, (), full.name_at)
    assert verdict.document is None and verdict.digest == ""


def test_copies_with_one_digest_are_one_object_while_any_lives() -> None:
    text = canonical_text(PLAIN)
    first = Document.with_digest(canonical_digest(PLAIN), text)
    again = Document.with_digest(canonical_digest(PLAIN), json.dumps(PLAIN, indent=2))
    assert again is first
    other = Document.with_digest(canonical_digest({"kind": "Other"}), '{"kind": "Other"}')
    assert other is not first and other == {"kind": "Other"}
