"""values.yaml and the templates agree: every value a template reads is declared (and
typed by values.schema.json), and every declared value is read by some template."""

from __future__ import annotations

import json
import re
import tomllib
from collections.abc import Iterator
from typing import Any

import jsonschema
import yaml

from tests.deploy.artefacts import CHART, ROOT

VALUES_REF = re.compile(r"\.Values((?:\.\w+)+)")
ALIAS = re.compile(r"(\$\w+)\s*:=\s*\.Values((?:\.\w+)+)")


def values() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load((CHART / "values.yaml").read_text())
    return loaded


def referenced_paths() -> set[str]:
    """Dotted paths read through `.Values.x.y` or through `$v := .Values.x` then `$v.y`."""
    paths: set[str] = set()
    for template in (CHART / "templates").iterdir():
        text = template.read_text()
        for alias, base in ALIAS.findall(text):
            for m in re.finditer(re.escape(alias) + r"(?!\w)(?!\s*:=)((?:\.\w+)*)", text):
                paths.add(base[1:] + m.group(1))
        # An alias binding alone reads nothing: only its uses above count.
        paths.update(m.group(1)[1:] for m in VALUES_REF.finditer(ALIAS.sub("", text)))
    return paths


def leaves(tree: dict[str, Any], prefix: str = "") -> Iterator[str]:
    for key, value in tree.items():
        path = f"{prefix}{key}"
        if isinstance(value, dict) and value and key not in ("requests", "limits"):
            yield from leaves(value, path + ".")
        else:
            yield path


def declared(path: str, tree: dict[str, Any]) -> bool:
    node: Any = tree
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return False
        node = node[part]
    return True


def test_every_value_a_template_reads_is_declared() -> None:
    tree = values()

    undeclared = sorted(p for p in referenced_paths() if not declared(p, tree))

    assert undeclared == []


def test_every_declared_value_is_read_by_a_template() -> None:
    refs = referenced_paths()

    unused = [
        leaf
        for leaf in leaves(values())
        if not any(leaf == r or leaf.startswith(r + ".") or r.startswith(leaf + ".") for r in refs)
    ]

    assert unused == []


def test_the_values_schema_accepts_the_defaults_and_refuses_unknown_keys() -> None:
    schema = json.loads((CHART / "values.schema.json").read_text())
    validator = jsonschema.Draft7Validator(schema)
    typo = values()
    typo["reconciler"]["replicas"] = 2

    assert list(validator.iter_errors(values())) == []
    assert [e.message for e in validator.iter_errors(typo)] == [
        "Additional properties are not allowed ('replicas' was unexpected)"
    ]


def test_the_chart_declares_its_minimum_kubernetes_version() -> None:
    chart = yaml.safe_load((CHART / "Chart.yaml").read_text())

    assert chart["apiVersion"] == "v2"
    assert chart["kubeVersion"] == ">=1.28.0-0"  # StatefulSet pod-index labels (supernodes)
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    assert chart["appVersion"] == project["version"]  # the image tag the chart defaults to
