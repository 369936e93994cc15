"""Validation against `schema/federation-spec.schema.json`, with readable, located messages.

`schema_findings` asks the compiled yes/no check first (`fastcheck`: jsonschema-rs, a few
microseconds); only a document it rejects meets jsonschema, the validator of record, whose
precompiled Draft 2020-12 validator turns every error (all of them, not just the first)
into a `Finding` on the line of the offending YAML node. Messages explain YAML 1.1
surprises (`no` read as a boolean, `1e-5` read as text, `5.0` where an integer belongs) and
never quote a secret value. Called by `filecheck`.
"""

from __future__ import annotations

import difflib
import functools
import json
import re
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path as FsPath
from typing import TYPE_CHECKING, Any, cast

from yaml.nodes import Node

from reconciler.specs.fastcheck import Check, compile_schema
from reconciler.specs.nodes import (
    Path,
    field_name,
    is_yaml11_bool_word,
    locate,
    node_at,
    scalar_text,
)
from reconciler.specs.yamlsafe import Finding

if TYPE_CHECKING:
    from jsonschema import ValidationError
    from jsonschema.protocols import Validator

# A link to the repository's schema/ file, so that a built wheel (which copies the content)
# carries the schema inside the package.
SCHEMA_PATH = FsPath(__file__).parent / "federation-spec.schema.json"

SECRET_FIELDS: tuple[Path, ...] = (("spec", "telemetry", "otlp", "headers"),)

_PATTERN_MEANING = {
    "^[a-z0-9]([-a-z0-9]*[a-z0-9])?$": (
        "must be a DNS-1123 label: lower-case letters, digits and '-', "
        "starting and ending with a letter or digit"
    ),
    "^[0-9a-f]{64}$": "must be a sha256: 64 lower-case hex characters",
    "^https?://[^\\s]+$": "must be an http:// or https:// URL",
    "^[A-Za-z_][A-Za-z0-9_]*(\\.[A-Za-z_][A-Za-z0-9_]*)*:[A-Za-z_][A-Za-z0-9_]*$": (
        "must be an import path package.module:Class"
    ),
}
_TYPE_NAMES = {
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "object": "a mapping",
    "array": "a list",
    "null": "nothing",
}
# YAML 1.1 only reads a number with a dot and a signed exponent as a float.
_EXPONENT = re.compile(r"^([-+]?\d+)(?:\.(\d*))?[eE]([-+]?)(\d+)$")


class SchemaUnavailable(Exception):
    """The schema file is missing or broken: the installation needs fixing, not the spec."""


@functools.cache
def load_schema() -> dict[str, Any]:
    """The FederationSpec JSON Schema, read once."""
    try:
        schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise SchemaUnavailable(f"cannot read the schema at {SCHEMA_PATH}: {exc}") from None
    return schema


def _is_integer(_checker: object, instance: object) -> bool:
    # JSON Schema counts 5.0 as an integer; a spec must not (range(5.0) fails at run time).
    return isinstance(instance, int) and not isinstance(instance, bool)


@functools.cache
def _validator() -> Validator:
    # Imported on first use: valid specs pass the fast path and never need jsonschema,
    # which keeps `reconciler validate` on a clean repository quick to start.
    from jsonschema import Draft202012Validator
    from jsonschema.validators import extend

    strict = extend(  # type: ignore[no-untyped-call]
        Draft202012Validator,
        type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
    )
    return strict(load_schema())  # type: ignore[no-any-return]


@functools.cache
def _passes() -> Check:
    return compile_schema(load_schema())


def schema_findings(document: Any, root: Node | None) -> list[Finding]:
    """Every schema error in `document`, located through `root` when given."""
    if _passes()(document):
        return []
    return located_errors(_validator().iter_errors(document), root)


def located_errors(errors: Iterable[ValidationError], root: Node | None) -> list[Finding]:
    """jsonschema errors as readable findings, one per (field, message), located through
    `root`; shared with the tenant-policy file's schema."""
    out: dict[tuple[str, str], Finding] = {}
    for error in errors:
        for finding in _explain(error, root):
            out.setdefault((finding.field, finding.message), finding)
    return list(out.values())


def is_secret(path: Path) -> bool:
    return any(path[: len(secret)] == secret for secret in SECRET_FIELDS)


def _explain(error: ValidationError, root: Node | None) -> Iterator[Finding]:
    path: Path = tuple(error.absolute_path)
    kind = error.validator
    if kind == "required":
        yield from _missing(error, path, root)
    elif kind == "additionalProperties" and error.validator_value is False:
        yield from _unknown(error, path, root)
    else:
        line, column = locate(root, path)
        yield Finding(line, column, field_name(path), _message(error, path, root))


def _missing(error: ValidationError, path: Path, root: Node | None) -> Iterator[Finding]:
    instance = error.instance if isinstance(error.instance, dict) else {}
    required: Any = error.validator_value
    for name in required:
        if name not in instance:
            line, column = locate(root, (*path, name))
            yield Finding(line, column, field_name((*path, name)), "required field is missing")


def _unknown(error: ValidationError, path: Path, root: Node | None) -> Iterator[Finding]:
    schema: Any = error.schema
    instance: Any = error.instance
    allowed = sorted(schema.get("properties", {}))
    for name in instance:
        if name in allowed:
            continue
        close = difflib.get_close_matches(str(name), allowed, n=1)
        hint = f"did you mean '{close[0]}'?" if close else f"allowed here: {', '.join(allowed)}"
        line, column = locate(root, (*path, name), key=True)
        yield Finding(line, column, field_name((*path, name)), f"unknown field; {hint}")


def _message(error: ValidationError, path: Path, root: Node | None) -> str:
    secret = is_secret(path)
    got = "(value hidden)" if secret else _describe(error.instance)
    kind, value = error.validator, cast(Any, error.validator_value)
    if kind == "type":
        text = None if secret or root is None else scalar_text(node_at(root, path)[0])
        return _type_message(value, error.instance, got, text)
    simple: dict[str, Callable[[], str]] = {
        "enum": lambda: f"must be one of {', '.join(map(str, value))}; got {got}",
        "const": lambda: f"must be {value}; got {got}",
        "minimum": lambda: f"must be >= {value}; got {got}",
        "maximum": lambda: f"must be <= {value}; got {got}",
        "exclusiveMinimum": lambda: f"must be > {value}; got {got}",
        "exclusiveMaximum": lambda: f"must be < {value}; got {got}",
        "minItems": lambda: f"must have at least {value} item(s)",
        "minLength": lambda: "must not be empty",
        "maxLength": lambda: f"must be at most {value} characters",
        "uniqueItems": lambda: "items must be unique",
        "pattern": lambda: f"{_PATTERN_MEANING.get(value, f'must match {value}')}; got {got}",
    }
    if isinstance(kind, str) and kind in simple:
        return simple[kind]()
    return "(value hidden)" if secret else error.message


def _type_message(expected: str | list[str], instance: Any, got: str, text: str | None) -> str:
    names = [expected] if isinstance(expected, str) else list(expected)
    described = [_TYPE_NAMES.get(n, n) for n in names]
    wanted = " or ".join(
        [", ".join(described[:-1]), described[-1]] if len(names) > 1 else described
    )
    return f"expected {wanted}, got {got}{_yaml_hint(names, instance, text)}"


def _yaml_hint(expected: list[str], instance: Any, text: str | None) -> str:
    """Explain how YAML turned the user's text into the wrong type, when it did."""
    if "string" in expected and isinstance(instance, bool) and is_yaml11_bool_word(text):
        return f': YAML 1.1 reads a bare {text} as a boolean; quote it: "{text}"'
    if "string" in expected and isinstance(instance, int | float) and text is not None:
        return f'; quote it: "{text}"'
    if "integer" in expected and isinstance(instance, float) and instance.is_integer():
        return f"; write {int(instance)}"
    if {"integer", "number"} & set(expected) and isinstance(instance, str):
        match = _EXPONENT.match(text or "")
        if match:
            whole, frac, sign, exp = match.groups()
            fixed = f"{whole}.{frac or 0}e{sign or '+'}{exp}"
            return f": YAML 1.1 reads {text} as text; write {fixed}"
        if text is None and _looks_numeric(instance):
            return "; remove the quotes"
    if "boolean" in expected and isinstance(instance, str) and text is None:
        return "; remove the quotes" if instance in ("true", "false") else ""
    return ""


def _looks_numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _describe(value: Any) -> str:
    if value is None:
        return "an empty value"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, str):
        return repr(value if len(value) <= 60 else value[:57] + "...")
    return repr(value)
