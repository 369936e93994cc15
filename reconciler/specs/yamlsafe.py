"""Safe YAML loading that keeps every node's position.

`parse_document` turns one file's bytes into plain JSON-like data (dict, list, str, int,
float, bool, None) plus the composed node tree, so later checks can say on which line a
field sits. Called by `filecheck` for every spec file.

What it refuses, each as a located `Finding` rather than an exception: files over the size
limit, text that is not UTF-8, YAML syntax errors, tags beyond plain data (no Python
objects, no timestamps or binary), duplicate keys, keys that are not strings (including
YAML 1.1 booleans such as a bare `on:`), alias expansion beyond a node budget ("billion
laughs"), recursive aliases, nesting deeper than `MAX_DEPTH`, NaN or infinity, and files
holding zero or several documents.

Parsing uses libyaml when PyYAML was built with it; the data is then built here in one
pass over the nodes (checks included) instead of by PyYAML's constructor, which is both
slower and blind to the checks above.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, cast

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from reconciler.specs.nodes import Path, field_name, is_yaml11_bool_word

MAX_FILE_BYTES = 256 * 1024  # a spec is a few kilobytes; anything near this is a mistake
MAX_NODES = 100_000  # nodes after alias expansion
MAX_DEPTH = 32  # a spec nests about 6 deep

_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _TAG + "str", _TAG + "map", _TAG + "seq", _TAG + "merge"
_NULL, _BOOL, _INT, _FLOAT = _TAG + "null", _TAG + "bool", _TAG + "int", _TAG + "float"
# Implicit resolvers we drop, so that these plain words stay strings: dates would not
# survive a round trip through JSON, and '=' / '!' would resolve to tags no one can load.
_DROPPED_RESOLVERS = frozenset(_TAG + t for t in ("timestamp", "value", "yaml"))
_RESOLVE_CACHE_MAX = 8192
_RESOLVE_CACHE_LONGEST = 40  # keys and short words repeat; long values (digests) do not
_SCALARS = yaml.constructor.SafeConstructor()  # reads single int/float/bool scalars
_READERS = {
    _BOOL: _SCALARS.construct_yaml_bool,
    _INT: _SCALARS.construct_yaml_int,
    _FLOAT: _SCALARS.construct_yaml_float,
}

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class SpecLoader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader (libyaml when available) with the resolvers above removed, and tag
    resolution cached: spec files repeat the same keys, and resolving is regex work."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_RESOLVERS]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }
    _resolved: dict[tuple[Any, ...], str] = {}

    def resolve(self, kind: type[Node], value: Any, implicit: Any) -> str:
        if value is not None and len(value) > _RESOLVE_CACHE_LONGEST:
            return str(super().resolve(kind, value, implicit))
        key = (kind, value, implicit)
        tag = self._resolved.get(key)
        if tag is None:
            if len(self._resolved) >= _RESOLVE_CACHE_MAX:
                self._resolved.clear()
            tag = self._resolved[key] = super().resolve(kind, value, implicit)
        return tag


@dataclass(frozen=True)
class Finding:
    """A problem located in the file: 1-based line and column, 0 when not known."""

    line: int
    column: int
    field: str
    message: str
    policy: bool = False  # a tenant-policy finding rather than a schema or rule one


@dataclass(frozen=True)
class Parsed:
    """One loaded document: its data and the node tree it came from."""

    data: Any
    node: Node


class YamlRejected(Exception):
    """The file cannot be turned into data; `findings` says why and where."""

    def __init__(self, findings: list[Finding]) -> None:
        super().__init__(findings[0].message if findings else "rejected")
        self.findings = findings


def parse_document(content: bytes) -> Parsed:
    """Load exactly one YAML document from `content`; raise `YamlRejected` otherwise."""
    node = _compose_single(_decode(content))
    builder = _Builder()
    data = builder.build(node)
    if builder.findings:
        raise YamlRejected(builder.findings)
    return Parsed(data=data, node=node)


def _decode(content: bytes) -> str:
    if len(content) > MAX_FILE_BYTES:
        size = f"{len(content)} bytes; the limit is {MAX_FILE_BYTES}"
        raise YamlRejected([Finding(0, 0, "", f"file is too large ({size})")])
    try:
        return content.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line, column = _position(content[: exc.start])
        raise YamlRejected([Finding(line, column, "", "file is not valid UTF-8")]) from None


def _position(prefix: bytes) -> tuple[int, int]:
    line = prefix.count(b"\n") + 1
    column = len(prefix) - (prefix.rfind(b"\n") + 1) + 1
    return line, column


def _compose_single(text: str) -> Node:
    loader = SpecLoader(text)
    try:
        if not loader.check_node():
            raise YamlRejected([Finding(1, 1, "", "file is empty: expected one FederationSpec")])
        node: Node = loader.get_node()
        if loader.check_node():
            mark = loader.peek_event().start_mark
            message = "a spec file holds exactly one document; move this one into its own file"
            raise YamlRejected([Finding(mark.line + 1, mark.column + 1, "", message)])
    except yaml.YAMLError as exc:
        raise YamlRejected([_from_yaml_error(exc, text)]) from None
    finally:
        loader.dispose()
    return node


def _from_yaml_error(exc: yaml.YAMLError, text: str) -> Finding:
    """Use the problem and its mark only: the snippet could quote a secret."""
    if isinstance(exc, yaml.reader.ReaderError):
        # libyaml reports a byte offset into the UTF-8 text
        line, column = _position(text.encode("utf-8")[: exc.position])
        return Finding(line, column, "", "file contains a character YAML does not allow")
    if isinstance(exc, yaml.MarkedYAMLError):
        mark = exc.problem_mark or exc.context_mark
        what = f"{exc.problem} ({exc.context})" if exc.context else str(exc.problem)
        if mark is not None:
            return Finding(mark.line + 1, mark.column + 1, "", f"YAML syntax: {what}")
        return Finding(0, 0, "", f"YAML syntax: {what}")
    return Finding(0, 0, "", f"YAML error: {type(exc).__name__}")


def _at(node: Node, path: Path, message: str) -> Finding:
    return Finding(node.start_mark.line + 1, node.start_mark.column + 1, field_name(path), message)


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


class _Builder:
    """Builds plain data from the node graph in one pass, checking as it goes. An alias
    yields the same object again (as PyYAML does) but counts its full size again, so a
    "billion laughs" file stops at `MAX_NODES` instead of exhausting what reads it."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.done: dict[int, tuple[Any, int]] = {}  # id(node) -> (value, expanded size)
        self.open: set[int] = set()  # nodes being built: meeting one again is a cycle

    def build(self, root: Node) -> Any:
        try:
            return self._node(root, (), 0)[0]
        except YamlRejected as exc:
            self.findings.extend(exc.findings)
            return None

    def _node(self, node: Node, path: Path, depth: int) -> tuple[Any, int]:
        if isinstance(node, ScalarNode):  # most nodes; cheap to build again when aliased
            return (node.value if node.tag == _STR else self._scalar(node, path)), 1
        done = self.done.get(id(node))
        if done is not None:
            return done
        if id(node) in self.open:
            raise YamlRejected([_at(node, path, "an alias refers to the node that contains it")])
        if depth > MAX_DEPTH:
            raise YamlRejected([_at(node, path, f"nested deeper than {MAX_DEPTH} levels")])
        self.open.add(id(node))
        if isinstance(node, MappingNode):
            built = self._mapping(node, path, depth + 1)
        else:
            built = self._sequence(cast(SequenceNode, node), path, depth + 1)
        self.open.discard(id(node))
        if built[1] > MAX_NODES:
            raise YamlRejected([_at(node, path, f"aliases expand to more than {MAX_NODES} nodes")])
        self.done[id(node)] = built
        return built

    def _sequence(self, node: SequenceNode, path: Path, depth: int) -> tuple[Any, int]:
        self._check_tag(node, path, _SEQ)
        items, size = [], 1
        for i, item in enumerate(node.value):
            value, n = self._node(item, (*path, i), depth)
            items.append(value)
            size += n
        return items, size

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> tuple[Any, int]:
        self._check_tag(node, path, _MAP)
        out: dict[str, Any] = {}
        merged: dict[str, Any] = {}
        keys: dict[str, Node] = {}
        size = 1
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                value, n = self._node(value_node, path, depth)
                self._merge(value, merged, value_node, path)
            else:
                key = self._key(key_node, keys, path)
                value, n = self._node(value_node, (*path, key or "?"), depth)
                if key is not None:
                    out[key] = value
            size += n + 1
        if merged:  # keys written in the mapping itself win over merged ones
            out = {**{k: v for k, v in merged.items() if k not in out}, **out}
        return out, size

    def _merge(self, value: Any, into: dict[str, Any], node: Node, path: Path) -> None:
        sources = value if isinstance(value, list) else [value]
        for source in sources:
            if not isinstance(source, dict):
                self.findings.append(_at(node, path, "<< merges a mapping or a list of mappings"))
                return
            for key, item in source.items():
                into.setdefault(key, item)  # the first source to name a key wins

    def _key(self, key_node: Node, seen: dict[str, Node], path: Path) -> str | None:
        if isinstance(key_node, ScalarNode) and key_node.tag == _STR:
            key = str(key_node.value)
            if key in seen:
                first = seen[key].start_mark.line + 1
                message = f"duplicate key '{key}' (first on line {first})"
                self.findings.append(_at(key_node, (*path, key), message))
            seen.setdefault(key, key_node)
            return key
        if isinstance(key_node, ScalarNode) and is_yaml11_bool_word(key_node.value):
            text = key_node.value
            message = f"YAML 1.1 reads the key {text} as a boolean; quote it: '{text}'"
        elif isinstance(key_node, ScalarNode):
            message = f"keys must be strings; quote it: '{key_node.value}'"
        else:
            message = "keys must be plain strings, not lists or mappings"
        self.findings.append(_at(key_node, path, message))
        return None

    def _check_tag(self, node: Node, path: Path, expected: str) -> None:
        if node.tag != expected:
            message = f"tag {_short(node.tag)} is not allowed in a spec (plain data only)"
            self.findings.append(_at(node, path, message))

    def _scalar(self, node: ScalarNode, path: Path) -> Any:
        tag = node.tag
        if tag == _NULL:
            return None
        readers = _READERS
        if tag not in readers:
            message = f"tag {_short(tag)} is not allowed in a spec (plain data only)"
            self.findings.append(_at(node, path, message))
            return None
        try:
            value = readers[tag](node)
        except (ValueError, KeyError):
            self.findings.append(_at(node, path, f"cannot read this value as {_short(tag)}"))
            return None
        if isinstance(value, float) and not math.isfinite(value):
            self.findings.append(_at(node, path, "NaN and infinity are not allowed"))
        return value
