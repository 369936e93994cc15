"""The YAML loader only ever builds plain data and refuses what could hurt or mislead."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.specs.yamlsafe import MAX_FILE_BYTES, MAX_NODES, YamlRejected, parse_document


def rejected(content: bytes) -> list[tuple[int, int, str, str]]:
    with pytest.raises(YamlRejected) as caught:
        parse_document(content)
    return [(f.line, f.column, f.field, f.message) for f in caught.value.findings]


def test_python_tags_are_never_executed(tmp_path: Path) -> None:
    marker = tmp_path / "pwned"
    content = f"a: !!python/object/apply:os.system ['touch {marker}']\n".encode()

    findings = rejected(content)

    assert not marker.exists()
    assert findings == [(1, 4, "a", findings[0][3])]
    assert "!!python/object/apply:os.system" in findings[0][3]


def test_billion_laughs_stops_at_the_node_budget() -> None:
    levels = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    levels += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 9)]

    findings = rejected("\n".join(levels).encode())

    assert len(findings) == 1
    assert f"more than {MAX_NODES} nodes" in findings[0][3]


def test_duplicate_keys_are_all_reported_with_both_lines() -> None:
    findings = rejected(b"a: 1\nb: 2\na: 3\nb: 4\n")

    assert [(line, field) for line, _, field, _ in findings] == [(3, "a"), (4, "b")]
    assert "first on line 1" in findings[0][3]


def test_files_over_the_size_limit_are_refused_before_parsing() -> None:
    findings = rejected(b"a: " + b"x" * MAX_FILE_BYTES + b"\n")

    assert findings[0][:3] == (0, 0, "")
    assert "too large" in findings[0][3]


@pytest.mark.parametrize(
    ("content", "line"),
    [(b"a: 1\n---\nb: 2\n", 3), (b"a: 1\n...\n---\nb: 2\n", 4)],
)
def test_more_than_one_document_is_refused_at_the_second(content: bytes, line: int) -> None:
    assert rejected(content)[0][0] == line


def test_invalid_utf8_is_located() -> None:
    assert rejected(b"a: ok\nb: caf\xe9\n")[0][:2] == (2, 7)


def test_a_byte_order_mark_is_accepted() -> None:
    assert parse_document(b"\xef\xbb\xbfa: 1\n").data == {"a": 1}


def test_plain_words_that_look_like_dates_or_tags_stay_strings() -> None:
    assert parse_document(b"d: 2024-01-01\ne: =\n").data == {"d": "2024-01-01", "e": "="}


def test_merge_keys_and_aliases_build_shared_values() -> None:
    data = parse_document(b"base: &b {x: 1, y: 2}\nd:\n  <<: *b\n  y: 3\n").data

    assert data == {"base": {"x": 1, "y": 2}, "d": {"x": 1, "y": 3}}


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"a: &a [1, *a]\n", "refers to the node that contains it"),
        (b"a: .inf\n", "NaN and infinity"),
        (b"a: !!int twelve\n", "cannot read this value as !!int"),
        (b"a: !!set {x}\n", "!!set is not allowed"),
        (b"a: !!timestamp 2024-01-01\n", "!!timestamp is not allowed"),
        (b"? [1, 2]\n: x\n", "keys must be plain strings"),
        (b"1: x\n", "keys must be strings"),
        (b"off: x\n", "reads the key off as a boolean"),
        (b"a:\n  <<: 3\n", "<< merges a mapping"),
        (b"a: [" + b"[" * 40 + b"]" * 41 + b"\n", "nested deeper than"),
        (b"a: b\x07\n", "character YAML does not allow"),
        (b"# only a comment\n", "file is empty"),
    ],
)
def test_refused_shapes_say_why(content: bytes, message: str) -> None:
    findings = rejected(content)

    assert any(message in f[3] for f in findings), findings
    assert all(f[0] >= 1 for f in findings)


def test_nodes_keep_their_positions() -> None:
    parsed = parse_document(b"a:\n  b: [1, 2]\n")

    mapping = parsed.node.value[0][1]
    assert (mapping.start_mark.line, mapping.start_mark.column) == (1, 2)
