"""Write the status reports' YAML: a small block-style emitter for plain data.

Used by `render.render_yaml` instead of PyYAML's dumper, whose representer costs ~2 ms a
report (20 s a cycle at 10,000 federations; this one is 6-10x faster). Strings are always
double-quoted, so any YAML 1.1 or 1.2 reader (PyYAML, yq, Go's yaml) reads back exactly the
value written; `tests/report/test_status_yaml_roundtrip_property.py` checks that.
"""

from __future__ import annotations

import json
import re
from typing import Any

# Characters a YAML reader refuses or folds inside a double-quoted scalar: escape them.
_UNSAFE_CHARS = re.compile(
    "[^\t\n\r\x20-\x7e\xa0-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]|[\u2028\u2029]"
)
_PLAIN_TEXT = re.compile(r"[\w .,:;/@+=()#%&*?!'-]*", re.ASCII)
_PLAIN_KEY = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_YAML11_WORDS = frozenset({"y", "n", "yes", "no", "on", "off", "true", "false", "null"})


def dump_yaml(document: dict[str, Any]) -> str:
    """Block-style YAML text of a mapping of str keys to dicts, lists and scalars (None,
    bool, int, finite float, str)."""
    return "\n".join(_block(document, 0)) + "\n"


def _block(value: dict[str, Any] | list[Any], depth: int) -> list[str]:
    """Block-style YAML for a non-empty mapping or sequence of our own fixed layout."""
    pad = "  " * depth
    lines: list[str] = []
    if isinstance(value, dict):
        for key, item in value.items():
            if isinstance(item, dict | list) and item:
                lines += [f"{pad}{_key(key)}:", *_block(item, depth + 1)]
            else:
                lines.append(f"{pad}{_key(key)}: {_scalar(item)}")
        return lines
    for item in value:
        if isinstance(item, dict | list) and item:
            first, *rest = _block(item, depth + 1)
            lines += [f"{pad}- {first.lstrip()}", *rest]
        else:
            lines.append(f"{pad}- {_scalar(item)}")
    return lines


def _key(key: str) -> str:
    """Plain when it is an identifier YAML reads as that string; quoted otherwise."""
    if _PLAIN_KEY.fullmatch(key) and key.lower() not in _YAML11_WORDS:
        return key
    return _scalar(key)


def _scalar(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        text = repr(value)  # callers pass finite floats only
        # YAML 1.1 reads "1e-05" as a string: floats need a dot before the exponent.
        return text.replace("e", ".0e") if "e" in text and "." not in text else text
    if isinstance(value, dict | list):
        return "{}" if isinstance(value, dict) else "[]"
    text = str(value)
    if _PLAIN_TEXT.fullmatch(text):
        return f'"{text}"'  # nothing to escape: skip json.dumps, the bulk of the cost
    text = json.dumps(text, ensure_ascii=False)  # a JSON string is a YAML string
    return _UNSAFE_CHARS.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
