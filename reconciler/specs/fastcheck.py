"""A fast yes/no check of a document against the FederationSpec schema.

jsonschema is the validator of record: it produces every error message, at ~1.5 ms a spec.
jsonschema-rs (compiled, same draft 2020-12 schema) answers yes or no in a few microseconds;
`schema.schema_findings` asks it first and runs jsonschema only for a document it rejects,
so jsonschema-rs may be stricter than jsonschema (that costs time, never a wrong answer) but
must never be more lenient. It is more lenient in two places, which are checked again here
in Python for every document it passes:

- integers: JSON Schema (and jsonschema-rs) counts 5.0 as an integer; the project's
  jsonschema type checker does not (`range(5.0)` fails at run time);
- patterns with a class escape such as `\\s`: Rust's classes are not Python's (Python's
  `\\s` also matches U+001C-U+001F), and jsonschema matches with Python's `re`.

The places are found by walking the schema once. The walk knows the keywords that apply
subschemas only through `properties`, `additionalProperties`, `items` and local `$ref`s,
and refuses a schema with any other applicator, so a schema edit cannot silently outrun
it. tests/specs/test_schema_fast_path.py keeps this check in step with jsonschema.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

Check = Callable[[Any], bool]

# Keywords that assert something of the value itself or say nothing at all: jsonschema-rs
# checks them like jsonschema does (with the exceptions above), and they hold no subschema.
_LEAF_KEYWORDS = frozenset(
    {
        *("$schema", "$id", "$defs", "$comment", "title", "description", "default", "examples"),
        *("type", "enum", "const", "required", "minItems", "maxItems", "uniqueItems"),
        *("minLength", "maxLength", "pattern", "minProperties", "maxProperties"),
        *("minimum", "maximum", "exclusiveMinimum", "exclusiveMaximum"),
    }
)
_APPLICATORS = frozenset({"properties", "additionalProperties", "items", "$ref"})
# A backslash before a letter is a class (\s, \d, \w, \b...) whose meaning differs between
# Rust's and Python's regular expressions; escaped punctuation (\. \-) means the same.
_CLASS_ESCAPE = re.compile(r"\\[A-Za-z]")


class UnsupportedSchema(ValueError):
    """The schema uses a keyword this module cannot follow: extend it, do not skip it."""


@dataclass
class _Place:
    """Where in a document Python must look again, as a tree shaped like the document."""

    checks: list[Check] = field(default_factory=list)
    fields: dict[str, _Place] = field(default_factory=dict)
    declared: frozenset[str] = frozenset()  # properties, which additionalProperties skips
    other_fields: _Place | None = None  # additionalProperties
    items: _Place | None = None

    def empty(self) -> bool:
        return not (self.checks or self.fields or self.other_fields or self.items)

    def compiled(self) -> Check:
        """This place as one predicate: closures, no generic walk (it runs on every spec)."""
        parts = self.checks + self._structure()
        if len(parts) == 1:
            return parts[0]
        return lambda v: all(part(v) for part in parts)

    def _structure(self) -> list[Check]:
        parts: list[Check] = []
        if self.fields:
            fields = [(name, place.compiled()) for name, place in self.fields.items()]
            parts.append(lambda v: not isinstance(v, dict) or _fields_hold(fields, v))
        if self.other_fields is not None:
            extra, declared = self.other_fields.compiled(), self.declared
            parts.append(lambda v: not isinstance(v, dict) or _extra_hold(extra, declared, v))
        if self.items is not None:
            item = self.items.compiled()
            parts.append(lambda v: not isinstance(v, list) or all(map(item, v)))
        return parts


_ABSENT = object()


def _fields_hold(fields: list[tuple[str, Check]], value: dict[str, Any]) -> bool:
    for name, check in fields:
        item = value.get(name, _ABSENT)
        if item is not _ABSENT and not check(item):
            return False
    return True


def _extra_hold(check: Check, declared: frozenset[str], value: dict[str, Any]) -> bool:
    return all(check(item) for key, item in value.items() if key not in declared)


def compile_schema(schema: dict[str, Any]) -> Check:
    """A predicate that is True only for documents valid against `schema` as the
    project's jsonschema validator (integers strict) judges them."""
    import jsonschema_rs  # a 15 MB extension: loaded by the first check, not by importing

    again = _Walker(schema).place(schema).compiled()  # first: it refuses remote references
    rust = jsonschema_rs.Draft202012Validator(schema, offline=True)  # never fetches a $ref

    def check(document: Any) -> bool:
        try:
            passed = rust.is_valid(document)
        except (ValueError, TypeError, OverflowError, UnicodeError):
            return False  # not plain JSON data (say, a non-string key): jsonschema decides
        return passed and again(document)

    return check


class _Walker:
    def __init__(self, root: Mapping[str, Any]) -> None:
        self.root = root
        self.following: set[str] = set()

    def place(self, schema: Any) -> _Place:
        here = _Place()
        if isinstance(schema, bool):
            return here
        unknown = schema.keys() - _LEAF_KEYWORDS - _APPLICATORS
        if unknown:
            raise UnsupportedSchema(f"fastcheck cannot follow the keyword(s) {sorted(unknown)}")
        here.checks += _own_checks(schema)
        for name, sub in schema.get("properties", {}).items():
            here.fields[name] = self.place(sub)
        here.declared = frozenset(here.fields)
        if "additionalProperties" in schema:
            here.other_fields = self._pruned(self.place(schema["additionalProperties"]))
        if "items" in schema:
            here.items = self._pruned(self.place(schema["items"]))
        if "$ref" in schema:
            _merge(here, self._ref(schema["$ref"]))
        here.fields = {k: v for k, v in here.fields.items() if not v.empty()}
        return here

    def _ref(self, ref: str) -> _Place:
        if not ref.startswith("#/$defs/"):
            raise UnsupportedSchema(f"fastcheck follows only local #/$defs/ references, not {ref}")
        if ref in self.following:
            raise UnsupportedSchema(f"fastcheck cannot follow the recursive reference {ref}")
        self.following.add(ref)
        try:
            return self.place(self.root["$defs"][ref.removeprefix("#/$defs/")])
        finally:
            self.following.discard(ref)

    @staticmethod
    def _pruned(place: _Place) -> _Place | None:
        return None if place.empty() else place


def _merge(target: _Place, source: _Place) -> None:
    """A `$ref` beside other keywords: both places' checks apply. Fields, items or extra
    fields on both sides would need 2020-12's rules for which properties each
    additionalProperties sees; the schema has none, so this refuses them."""
    if _structured(target) and _structured(source):
        raise UnsupportedSchema("fastcheck cannot merge a $ref's fields with its neighbours'")
    target.checks += source.checks
    if _structured(source):
        target.fields, target.declared = source.fields, source.declared
        target.other_fields, target.items = source.other_fields, source.items


def _structured(place: _Place) -> bool:
    return bool(place.declared or place.other_fields or place.items)


def _own_checks(schema: Mapping[str, Any]) -> list[Check]:
    checks: list[Check] = []
    types = schema.get("type", ())
    types = [types] if isinstance(types, str) else types
    if "integer" in types and "number" not in types:
        # jsonschema-rs passed the value, so a float here is a whole number such as 5.0.
        checks.append(lambda v: not isinstance(v, float))
    pattern = schema.get("pattern")
    if pattern is not None and _CLASS_ESCAPE.search(pattern):
        search = re.compile(pattern).search
        checks.append(lambda v: not isinstance(v, str) or search(v) is not None)
    return checks
