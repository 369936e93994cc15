"""Finding positions in a composed YAML node tree.

Validation works on plain data; these helpers map a field path such as
`("spec", "datasetSpec", "shards", 0, "uri")` back to the node that holds it, so that every
problem names its line and column. Used by `yamlsafe`, `schema` and `filecheck`.
"""

from __future__ import annotations

import re

from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

Path = tuple[str | int, ...]

# The words YAML 1.1 reads as booleans that people mean as strings (true/false are meant).
_YAML11_BOOLS = re.compile(r"^(?:yes|Yes|YES|no|No|NO|on|On|ON|off|Off|OFF)$")


def field_name(path: Path) -> str:
    """`("spec", "shards", 0, "uri")` -> `spec.shards[0].uri`."""
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def is_yaml11_bool_word(text: str | None) -> bool:
    return text is not None and _YAML11_BOOLS.match(text) is not None


def scalar_text(node: Node) -> str | None:
    """The source text of a plain (unquoted) scalar, for explaining YAML 1.1 surprises."""
    if isinstance(node, ScalarNode) and not node.style:  # libyaml says "", PyYAML None
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
    for key_node, _ in parent.value:
        if isinstance(key_node, ScalarNode) and key_node.value == path[-1]:
            return key_node
    return None


def locate(root: Node | None, path: Path, *, key: bool = False) -> tuple[int, int]:
    """1-based line and column of the node at `path` (of its key, with `key=True`), 0 and 0
    without a tree. A missing field is located at the key of its nearest present ancestor:
    the line of the parent mapping."""
    if root is None:
        return 0, 0
    node = key_node_at(root, path) if key and path else None
    if node is None:
        node, found = node_at(root, path)
        if not found:
            nearest = _present_prefix(root, path)
            node = (key_node_at(root, nearest) if nearest else None) or node_at(root, nearest)[0]
    return node.start_mark.line + 1, node.start_mark.column + 1


def _present_prefix(root: Node, path: Path) -> Path:
    for end in range(len(path), 0, -1):
        if node_at(root, path[:end])[1]:
            return path[:end]
    return ()


def _child(node: Node, part: str | int) -> Node | None:
    if isinstance(node, SequenceNode) and isinstance(part, int) and 0 <= part < len(node.value):
        child: Node = node.value[part]
        return child
    if isinstance(node, MappingNode) and isinstance(part, str):
        for key_node, value_node in node.value:
            if isinstance(key_node, ScalarNode) and key_node.value == part:
                found: Node = value_node
                return found
    return None
