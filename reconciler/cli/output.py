"""The `-o/--output` vocabulary every read command shares, and how its formats are written.

    text  a table or lines for people (the default)
    wide  text with more columns (`status`)
    json  JSON: an object for one named thing, an array for a list; JSON Lines where the
          command streams (`events`, `--watch`)
    yaml  the same document as json, in YAML

Keys are camelCase in json and yaml, event payloads included: the store keeps payloads as
written (snake_case), and `camel_keys` converts them on the way out. User data (metric names,
spec documents) keeps its own keys.
"""

from __future__ import annotations

import argparse
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

TEXT, WIDE, JSON, YAML = "text", "wide", "json", "yaml"
# Keys whose values belong to the user: their keys are shown as written.
VERBATIM = frozenset({"metrics", "lastMetrics", "document", "spec", "labels"})

_SNAKE = re.compile(r"_([a-z0-9])")


def add_output_argument(
    parser: argparse.ArgumentParser, formats: Sequence[str] = (TEXT, JSON, YAML)
) -> None:
    parser.add_argument(
        "--output",
        "-o",
        choices=formats,
        default=TEXT,
        help="output format (default: %(default)s; see docs/cli.md)",
    )


def camel(key: str) -> str:
    """`run_id` -> `runId`; keys already camelCase are unchanged."""
    return _SNAKE.sub(lambda m: m.group(1).upper(), key)


def camel_keys(value: Mapping[str, Any]) -> dict[str, Any]:
    """`value` with every mapping key in camelCase, except below the keys in VERBATIM."""
    converted: dict[str, Any] = _camel(value)
    return converted


def _camel(value: Any) -> Any:
    if isinstance(value, Mapping):
        return {
            camel(str(k)): v if camel(str(k)) in VERBATIM else _camel(v) for k, v in value.items()
        }
    if isinstance(value, list | tuple):
        return [_camel(v) for v in value]
    return value


def dump(document: Any, fmt: str) -> str:
    """`document` (already camelCase) as json or yaml text, without a trailing newline."""
    if fmt == YAML:
        import yaml

        return str(yaml.safe_dump(document, sort_keys=False, allow_unicode=True)).rstrip("\n")
    return json.dumps(document, indent=2)


def dump_line(document: Any, fmt: str) -> str:
    """One item of a stream: a JSON line, or a YAML document opened by `---`."""
    if fmt == YAML:
        return "---\n" + dump(document, YAML)
    return json.dumps(document, sort_keys=True)
