"""The fast path (jsonschema-rs and the places Python checks again) never passes a document
jsonschema rejects, and agrees on the corpus; the schema itself is a valid 2020-12 schema
with a description on every field."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from reconciler.specs import load_schema
from reconciler.specs.fastcheck import UnsupportedSchema, compile_schema
from reconciler.specs.rules import FLOWER_STRATEGIES
from reconciler.specs.schema import _validator
from reconciler.specs.yamlsafe import YamlRejected, parse_document

from .conftest import CORPUS

FAST = compile_schema(load_schema())


def corpus_documents() -> Iterator[Any]:
    for case in sorted(CORPUS.rglob("*.yaml")):
        try:
            yield parse_document(case.read_bytes()).data
        except YamlRejected:
            continue


def test_fast_path_agrees_with_jsonschema_on_the_corpus() -> None:
    documents = list(corpus_documents())

    assert len(documents) > 60
    for document in documents:
        assert FAST(document) == _validator().is_valid(document), document


json_values = st.recursive(
    st.none() | st.booleans() | st.integers(-5, 5) | st.floats(-2, 2) | st.text(max_size=3),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner),
    max_leaves=6,
)


def _paths(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, child in value.items():
            yield from _paths(child, (*path, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            yield from _paths(child, (*path, index))


def _replaced(document: Any, path: tuple[Any, ...], new: Any) -> Any:
    """A copy of `document` with the value at `path` replaced by `new`."""
    if not path:
        return new
    copy = _deep_copy(document)
    target = copy
    for key in path[:-1]:
        target = target[key]
    target[path[-1]] = new
    return copy


def _deep_copy(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _deep_copy(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_deep_copy(v) for v in value]
    return value


FULL = parse_document((CORPUS / "valid" / "full.yaml").read_bytes()).data


@settings(max_examples=400, deadline=None)
@given(st.sampled_from(list(_paths(FULL))[1:]), json_values)
def test_fast_path_is_never_more_lenient_than_jsonschema(path: tuple[Any, ...], new: Any) -> None:
    document = _replaced(FULL, path, new)

    # Stricter is allowed (jsonschema then decides, and finds nothing): Rust's `$` does not
    # match before a final newline, Python's does.
    if FAST(document):
        assert _validator().is_valid(document)


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("spec", "rounds", "total"), 5.0),  # JSON Schema's integer; not the project's
        (("spec", "datasetSpec", "shards", 0, "partition"), 0.0),  # under items
        (("spec", "telemetry", "otlp", "endpoint"), "https://a\x1cb"),  # Python's \s only
    ],
)
def test_fast_path_rejects_what_only_jsonschema_catches(path: tuple[Any, ...], value: Any) -> None:
    document = _replaced(FULL, path, value)

    assert not _validator().is_valid(document)
    assert not FAST(document)


def test_fast_path_leaves_to_jsonschema_what_is_not_plain_data() -> None:
    assert not FAST({**FULL, 1: "a non-string key"})


def test_fast_path_may_be_stricter_than_jsonschema() -> None:
    document = _replaced(FULL, ("metadata", "name"), "digits\n")

    assert _validator().is_valid(document)
    assert not FAST(document)


@pytest.mark.parametrize(
    "schema",
    [
        {"type": "object", "oneOf": [{"required": ["a"]}]},
        {"$ref": "#/$defs/a", "$defs": {"a": {"items": {"$ref": "#/$defs/a"}}}},
        {"$ref": "https://example.org/elsewhere.json"},
        {
            "properties": {"a": {"type": "integer"}},
            "$ref": "#/$defs/b",
            "$defs": {"b": {"properties": {"b": {"type": "integer"}}}},
        },
    ],
)
def test_what_it_cannot_follow_refuses_to_compile(schema: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedSchema):
        compile_schema(schema)


def test_schema_is_valid_and_documents_every_field() -> None:
    schema = load_schema()
    Draft202012Validator.check_schema(schema)

    def undocumented(node: Any, path: str) -> Iterator[str]:
        for name, sub in node.get("properties", {}).items():
            if "description" not in sub:
                yield f"{path}.{name}"
            yield from undocumented(sub, f"{path}.{name}")
        if isinstance(node.get("items"), dict):
            yield from undocumented(node["items"], f"{path}[]")

    assert list(undocumented(schema, "")) == []


def test_known_strategy_classes_match_flower() -> None:
    import flwr.serverapp.strategy as flower

    wrappers = {n for n in flower.__all__ if n.startswith("DifferentialPrivacy")}
    assert set(flower.__all__) - wrappers - {"Result", "Strategy"} == FLOWER_STRATEGIES
