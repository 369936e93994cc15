"""Safe YAML loading that keeps every node's position.

`parse_document` turns one file's bytes into plain JSON-like data (dict, list, str, int,
float, bool, None) plus the composed node tree, so later checks can say on which line a
field sits. Called by `filecheck` for every spec file.

What it refuses, each as a located `Finding` rather than an exception: files over the size
limit, text that is not UTF-8, YAML syntax errors, tags beyond plain data (no Python
objects, no timestamps or binary), duplicate keys, keys that are not strings (including
YAML 1.1 booleans such as a bare `on:`), alias expansion beyond a node budget ("billion
laughs"), recursive aliases, nesting deeper than `MAX_DEPTH`, NaN or infinity, and files
holding zero or several documents. Parsing uses libyaml when PyYAML was built with it.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

MAX_FILE_BYTES = 256 * 1024  # a spec is a few kilobytes; anything near this is a mistake
MAX_NODES = 100_000  # nodes after alias expansion
MAX_DEPTH = 32  # a spec nests about 6 deep

Path = tuple[str | int, ...]

_TAG = "tag:yaml.org,2002:"
_STR, _MAP, _SEQ, _MERGE = _TAG + "str", _TAG + "map", _TAG + "seq", _TAG + "merge"
_PLAIN_TAGS = frozenset(_TAG + t for t in ("str", "int", "float", "bool", "null", "map", "seq"))
# Implicit resolvers we drop, so that these plain words stay strings: dates would not
# survive a round trip through JSON, and '=' / '!' would resolve to tags no one can load.
_DROPPED_RESOLVERS = frozenset(_TAG + t for t in ("timestamp", "value", "yaml"))
# The words YAML 1.1 reads as booleans that people mean as strings (true/false are meant).
_YAML11_BOOLS = re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$")
_SCALARS = yaml.constructor.SafeConstructor()  # builds single scalars for the checks below

_BaseLoader: type[Any] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_BaseLoader):  # type: ignore[misc]
    """SafeLoader (libyaml when available) with the resolvers above removed."""

    yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag not in _DROPPED_RESOLVERS]
        for first, resolvers in _BaseLoader.yaml_implicit_resolvers.items()
    }


@dataclass(frozen=True)
class Finding:
    """A problem located in the file: 1-based line and column, 0 when not known."""

    line: int
    column: int
    field: str
    message: str


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
    text = _decode(content)
    node = _compose_single(text)
    findings = _NodeChecker().check(node)
    if findings:
        raise YamlRejected(findings)
    loader = _Loader("")
    try:
        data = loader.construct_document(node)
    except yaml.YAMLError as exc:
        raise YamlRejected([_from_yaml_error(exc, text)]) from None
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
    loader = _Loader(text)
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


def field_name(path: Path) -> str:
    """`("spec", "shards", 0, "uri")` -> `spec.shards[0].uri`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def _at(node: Node, path: Path, message: str) -> Finding:
    return Finding(node.start_mark.line + 1, node.start_mark.column + 1, field_name(path), message)


class _NodeChecker:
    """One walk over the node graph, counting nodes as if aliases were expanded."""

    def __init__(self) -> None:
        self.findings: list[Finding] = []
        self.sizes: dict[int, int] = {}  # expanded size of each node seen, by id
        self.open: set[int] = set()  # nodes on the current path: seeing one again is a cycle

    def check(self, root: Node) -> list[Finding]:
        try:
            self._size(root, (), 0)
        except YamlRejected as exc:
            return [*self.findings, *exc.findings]
        return self.findings

    def _size(self, node: Node, path: Path, depth: int) -> int:
        known = self.sizes.get(id(node))
        if known is not None:
            return known
        if id(node) in self.open:
            raise YamlRejected([_at(node, path, "an alias refers to the node that contains it")])
        if depth > MAX_DEPTH:
            raise YamlRejected([_at(node, path, f"nested deeper than {MAX_DEPTH} levels")])
        self.open.add(id(node))
        size = 1 + self._children(node, path, depth + 1)
        self.open.discard(id(node))
        if size > MAX_NODES:
            message = f"aliases expand to more than {MAX_NODES} nodes"
            raise YamlRejected([_at(node, path, message)])
        self.sizes[id(node)] = size
        return size

    def _children(self, node: Node, path: Path, depth: int) -> int:
        if isinstance(node, ScalarNode):
            self._check_scalar(node, path)
            return 0
        if isinstance(node, SequenceNode):
            self._check_tag(node, path, _SEQ)
            return sum(self._size(item, (*path, i), depth) for i, item in enumerate(node.value))
        if isinstance(node, MappingNode):
            self._check_tag(node, path, _MAP)
            return self._mapping(node, path, depth)
        return 0

    def _mapping(self, node: MappingNode, path: Path, depth: int) -> int:
        seen: dict[str, Node] = {}
        total = 0
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE:
                total += self._size(value_node, path, depth)
                continue
            key = self._key(key_node, path)
            if key is not None and key in seen:
                first = seen[key].start_mark.line + 1
                self.findings.append(
                    _at(key_node, (*path, key), f"duplicate key '{key}' (first on line {first})")
                )
            elif key is not None:
                seen[key] = key_node
            total += 1 + self._size(value_node, (*path, key if key is not None else "?"), depth)
        return total

    def _key(self, key_node: Node, path: Path) -> str | None:
        if isinstance(key_node, ScalarNode) and key_node.tag == _STR:
            return str(key_node.value)
        if isinstance(key_node, ScalarNode) and _YAML11_BOOLS.match(key_node.value):
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

    def _check_scalar(self, node: ScalarNode, path: Path) -> None:
        if node.tag not in _PLAIN_TAGS:
            message = f"tag {_short(node.tag)} is not allowed in a spec (plain data only)"
            self.findings.append(_at(node, path, message))
        elif node.tag == _TAG + "float" and not math.isfinite(_SCALARS.construct_yaml_float(node)):
            self.findings.append(_at(node, path, "NaN and infinity are not allowed"))


def _short(tag: str) -> str:
    return "!!" + tag.removeprefix(_TAG) if tag.startswith(_TAG) else tag


def scalar_text(node: Node) -> str | None:
    """The source text of a plain (unquoted) scalar, for explaining YAML 1.1 surprises."""
    if isinstance(node, ScalarNode) and node.style is None:
        return str(node.value)
    return None


def node_at(root: Node, path: Path) -> tuple[Node, bool]:
    """The node at `path`, or its nearest ancestor; the flag says whether it was found."""
    node = root
    for part in path:
        child = _child(node, part)
        if child is None:
            return node, False
        node = child
    return node, True


def key_node_at(root: Node, path: Path) -> Node | None:
    """The key node naming the last element of `path` in its mapping."""
    parent, found = node_at(root, path[:-1])
    if not found or not isinstance(parent, MappingNode):
        return None
    for key_node, _ in reversed(parent.value):
        if isinstance(key_node, ScalarNode) and key_node.value == path[-1]:
            return key_node
    return None


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: Node = node.value[part]
        return child
    if isinstance(node, MappingNode) and isinstance(part, str):
        # Last wins, as in the constructed mapping (merged keys come first after flattening).
        for key_node, value_node in reversed(node.value):
            if isinstance(key_node, ScalarNode) and key_node.value == part:
                found: Node = value_node
                return found
    return None


def is_yaml11_bool_word(text: str | None) -> bool:
    return text is not None and _YAML11_BOOLS.match(text) is not None


@dataclass
class _Frame:
    """An open collection while reading events: `under` is the key it sits under."""

    is_map: bool
    under: str | None
    key: str | None = None
    awaiting_key: bool = True


def salvage_name(content: bytes) -> str | None:
    """`metadata.name` read from the parse events before a file's first error, so that a
    broken file still says which federation it means. Best effort: None when not reached."""
    text = content[:MAX_FILE_BYTES].decode("utf-8", errors="replace")
    loader = _Loader(text)
    frames: list[_Frame] = []
    try:
        while True:
            event = loader.get_event()
            if isinstance(event, yaml.DocumentEndEvent | yaml.StreamEndEvent):
                return None
            found = _follow(event, frames)
            if found is not None:
                return found or None
    except yaml.YAMLError:
        return None
    finally:
        loader.dispose()


def _follow(event: yaml.Event, frames: list[_Frame]) -> str | None:
    """Track the open collections; return the name when `event` is it, "" to give up."""
    top = frames[-1] if frames else None
    if isinstance(event, yaml.CollectionEndEvent):
        frames.pop()
        if frames:
            frames[-1].awaiting_key = True
        return None
    if not isinstance(event, yaml.NodeEvent):
        return None
    if top is not None and top.is_map and top.awaiting_key:
        if not isinstance(event, yaml.ScalarEvent):
            return ""  # a complex key: no spec has one, stop guessing
        top.key, top.awaiting_key = event.value, False
        return None
    if isinstance(event, yaml.CollectionStartEvent):
        under = top.key if top is not None and top.is_map else None
        frames.append(_Frame(is_map=isinstance(event, yaml.MappingStartEvent), under=under))
        return None
    if top is not None:
        top.awaiting_key = top.is_map
    in_metadata = len(frames) == 2 and frames[0].is_map and frames[1].under == "metadata"
    if in_metadata and top is not None and top.is_map and top.key == "name":
        return event.value if isinstance(event, yaml.ScalarEvent) and event.value else ""
    return None
