"""A fast yes/no check of a document against the FederationSpec schema.

jsonschema is the validator of record: it produces every error message. It is also about
1 ms per spec, which alone would spend the whole 10,000-file budget. This module compiles
the schema into plain Python predicates once; `schema.schema_findings` asks it first and
runs jsonschema only for documents it does not pass. It must be sound (never pass a
document jsonschema rejects); for anything it is unsure of it says "no" and jsonschema
decides. It knows only the keywords the schema uses and refuses to compile any other, so
a schema edit cannot silently outrun it. tests/specs/test_fastcheck.py keeps the two in step.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from typing import Any

Check = Callable[[Any], bool]

_ANNOTATIONS = frozenset(
    {"$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"}
)
_OBJECT_KEYWORDS = frozenset({"properties", "additionalProperties", "required"})
_TYPES: dict[str, Check] = {
    "string": lambda v: isinstance(v, str),
    "integer": lambda v: isinstance(v, int) and not isinstance(v, bool),
    "number": lambda v: isinstance(v, int | float) and not isinstance(v, bool),
    "boolean": lambda v: isinstance(v, bool),
    "object": lambda v: isinstance(v, dict),
    "array": lambda v: isinstance(v, list),
    "null": lambda v: v is None,
}


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this module cannot check: extend it, do not skip it."""


def compile_schema(schema: Mapping[str, Any]) -> Check:
    """A predicate that is True only for documents valid against `schema`."""
    return _Compiler(schema).compile(schema)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _unique_key(value: Any) -> tuple[str, Any]:
    if isinstance(value, bool):
        return ("b", value)
    if isinstance(value, str):
        return ("s", value)
    if _is_number(value):
        return ("n", value)
    raise TypeError  # lists and mappings: leave uniqueness to jsonschema


def _unique(items: list[Any]) -> bool:
    try:
        return len({_unique_key(item) for item in items}) == len(items)
    except TypeError:
        return False


class _Compiler:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.refs: dict[str, Check] = {}

    def compile(self, schema: Any) -> Check:
        if isinstance(schema, bool):
            return lambda _v: schema
        checks = [self._object(schema)] if _OBJECT_KEYWORDS & schema.keys() else []
        for name, value in schema.items():
            if name in _ANNOTATIONS or name in _OBJECT_KEYWORDS:
                continue
            builder = getattr(self, "_k_" + name.lstrip("$"), None)
            if builder is None:
                raise UnsupportedSchema(f"fastcheck cannot check the keyword {name!r}")
            checks.append(builder(value))
        if len(checks) == 1:
            return checks[0]
        return lambda v: all(check(v) for check in checks)

    def _object(self, schema: Mapping[str, Any]) -> Check:
        props = {k: self.compile(v) for k, v in schema.get("properties", {}).items()}
        extra = schema.get("additionalProperties", True)
        other = self.compile(extra)
        required = tuple(schema.get("required", ()))

        def check(v: Any) -> bool:
            if not isinstance(v, dict):
                return True
            if any(name not in v for name in required):
                return False
            for key, item in v.items():
                sub = props.get(key, other)
                if not sub(item):
                    return False
            return True

        return check

    def _k_ref(self, ref: str) -> Check:
        if not ref.startswith("#/$defs/"):
            raise UnsupportedSchema(f"fastcheck follows only local #/$defs/ references, not {ref}")
        name = ref.removeprefix("#/$defs/")
        if name not in self.refs:
            self.refs[name] = lambda v: True  # placeholder while compiling a recursive def
            self.refs[name] = self.compile(self.root["$defs"][name])
        refs = self.refs
        return lambda v: refs[name](v)

    def _k_type(self, value: str | list[str]) -> Check:
        tests = [_TYPES[t] for t in ([value] if isinstance(value, str) else value)]
        if len(tests) == 1:
            return tests[0]
        return lambda v: any(test(v) for test in tests)

    def _k_enum(self, members: list[Any]) -> Check:
        if not all(isinstance(m, str) for m in members):
            raise UnsupportedSchema("fastcheck supports enums of strings only")
        allowed = frozenset(members)
        return lambda v: isinstance(v, str) and v in allowed

    def _k_const(self, value: Any) -> Check:
        return self._k_enum([value])

    def _k_items(self, schema: Any) -> Check:
        sub = self.compile(schema)
        return lambda v: not isinstance(v, list) or all(sub(item) for item in v)

    def _k_minItems(self, n: int) -> Check:
        return lambda v: not isinstance(v, list) or len(v) >= n

    def _k_uniqueItems(self, on: bool) -> Check:
        return lambda v: not on or not isinstance(v, list) or _unique(v)

    def _k_minLength(self, n: int) -> Check:
        return lambda v: not isinstance(v, str) or len(v) >= n

    def _k_maxLength(self, n: int) -> Check:
        return lambda v: not isinstance(v, str) or len(v) <= n

    def _k_pattern(self, pattern: str) -> Check:
        search = re.compile(pattern).search
        return lambda v: not isinstance(v, str) or search(v) is not None

    def _k_minimum(self, n: float) -> Check:
        return lambda v: not _is_number(v) or v >= n

    def _k_maximum(self, n: float) -> Check:
        return lambda v: not _is_number(v) or v <= n

    def _k_exclusiveMinimum(self, n: float) -> Check:
        return lambda v: not _is_number(v) or v > n

    def _k_exclusiveMaximum(self, n: float) -> Check:
        return lambda v: not _is_number(v) or v < n
