"""Shared readers for the deployment artefacts under deploy/: the rendered Helm chart, the
Compose file, the Dockerfile, and the project's own command-line parsers to check the
command lines those files contain.

Helm templates are rendered by Helm's own engine (the `helm-python-sdk` wheel embeds the
Helm Go SDK; no binary, no cluster). Kubernetes objects are checked against the API
schemas in `kubernetes-validate`.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import shlex
from collections.abc import Iterator, Mapping
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
DEPLOY = ROOT / "deploy"
CHART = DEPLOY / "helm"
COMPOSE = DEPLOY / "compose.yaml"
DOCKERFILE = DEPLOY / "Dockerfile"
KUBE_VERSION = "1.28.0"  # the chart's minimum (StatefulSet pod-index labels)

# Just enough to render: the chart refuses to guess the repository, the database, or where
# the SuperLink's TLS certificate comes from.
FLOWER_TLS_SECRET = "flower-tls"
REQUIRED = {
    "reconciler": {"repo": "https://git.example/fl/specs.git"},
    "secrets": {"databaseUrl": "postgresql://tl:pw@db.example:5432/tl"},
    "flower": {"tls": {"existingSecret": FLOWER_TLS_SECRET}},
}
# API groups of custom resources the chart renders; the Kubernetes schemas do not know them.
CUSTOM_GROUPS = ("monitoring.coreos.com/", "cert-manager.io/")


def merged(base: Mapping[str, Any], extra: Mapping[str, Any]) -> dict[str, Any]:
    out = dict(base)
    for key, value in extra.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), Mapping):
            out[key] = merged(out[key], value)
        else:
            out[key] = value
    return out


@cache
def render_module() -> ModuleType:
    """deploy/kubernetes/render.py, the script that renders the plain manifests."""
    spec = importlib.util.spec_from_file_location(
        "deploy_render", DEPLOY / "kubernetes" / "render.py"
    )
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def render(
    values: Mapping[str, Any], *, release: str = "tl", namespace: str = "fl"
) -> list[dict[str, Any]]:
    """The chart's Kubernetes objects for these values (merged over REQUIRED)."""
    rendered = render_module().render_chart(
        merged(REQUIRED, values), release=release, namespace=namespace
    )
    return objects_of("\n---\n".join(t for p, t in sorted(rendered.items()) if p.endswith(".yaml")))


def objects_of(text: str) -> list[dict[str, Any]]:
    return [doc for doc in yaml.safe_load_all(text) if doc]


def find(objs: list[dict[str, Any]], kind: str, name: str | None = None) -> dict[str, Any]:
    hits = [
        o for o in objs if o["kind"] == kind and (name is None or o["metadata"]["name"] == name)
    ]
    assert len(hits) == 1, f"expected one {kind} {name or ''}, found {len(hits)}"
    return hits[0]


def pod_specs(objs: list[dict[str, Any]]) -> Iterator[tuple[dict[str, Any], dict[str, Any]]]:
    """(workload, pod template) for every Deployment, StatefulSet and Job."""
    for obj in objs:
        if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
            yield obj, obj["spec"]["template"]


def container(obj: dict[str, Any], name: str | None = None) -> dict[str, Any]:
    containers = obj["spec"]["template"]["spec"]["containers"]
    return containers[0] if name is None else next(c for c in containers if c["name"] == name)


def env_of(c: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    return {e["name"]: e for e in c.get("env", [])}


def validate_k8s(objs: list[dict[str, Any]], version: str = KUBE_VERSION) -> list[str]:
    """Problems found by the Kubernetes API schemas (strict: unknown fields are errors).
    Custom resources (ServiceMonitor, Certificate) have no schema there; the tests check them."""
    import kubernetes_validate

    problems = []
    for obj in objs:
        if obj["apiVersion"].startswith(CUSTOM_GROUPS):
            continue
        try:
            kubernetes_validate.validate(obj, version, strict=True)
        except kubernetes_validate.ValidationError as exc:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {exc.message}")
    return problems


# --- command lines ---------------------------------------------------------------------


def reconciler_args(argv: list[str]) -> argparse.Namespace:
    """Parse a `reconciler ...` command line with the real parser (exit 2 on a bad flag)."""
    from reconciler.cli import build_parser

    return build_parser().parse_args(argv)


def superlink_args(argv: list[str]) -> argparse.Namespace:
    from flwr.superlink.cli.flower_superlink import _parse_args_run_superlink

    return _parse_args_run_superlink().parse_args(argv)


def supernode_args(argv: list[str]) -> argparse.Namespace:
    from flwr.supernode.cli.flower_supernode import _parse_args_run_supernode

    return _parse_args_run_supernode().parse_args(argv)


def node_config(text: str) -> dict[str, str]:
    return dict(pair.split("=", 1) for pair in shlex.split(text))


# --- Compose ---------------------------------------------------------------------------

_INTERPOLATION = re.compile(r"\$\{(\w+)(?::-([^}]*))?\}")


def interpolate(value: Any, env: Mapping[str, str] | None = None) -> Any:
    """Compose's `${VAR:-default}` with an empty environment, i.e. the defaults."""
    env = env or {}
    if isinstance(value, str):
        return _INTERPOLATION.sub(lambda m: env.get(m.group(1)) or (m.group(2) or ""), value)
    if isinstance(value, list):
        return [interpolate(v, env) for v in value]
    if isinstance(value, dict):
        return {k: interpolate(v, env) for k, v in value.items()}
    return value


@cache
def compose() -> dict[str, Any]:
    loaded: dict[str, Any] = interpolate(yaml.safe_load(COMPOSE.read_text()))
    return loaded


# --- Dockerfile ------------------------------------------------------------------------


def dockerfile_instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) with continuation lines joined and comments dropped."""
    lines: list[str] = []
    pending = ""
    for raw in DOCKERFILE.read_text().splitlines():
        stripped = raw.strip()
        if not stripped or stripped.startswith("#"):
            continue
        if stripped.endswith("\\"):
            pending += stripped[:-1] + " "
            continue
        lines.append(pending + stripped)
        pending = ""
    return [(line.split(None, 1)[0].upper(), line.split(None, 1)[1]) for line in lines]


def final_stage() -> list[tuple[str, str]]:
    instructions = dockerfile_instructions()
    last_from = max(i for i, (op, _) in enumerate(instructions) if op == "FROM")
    return instructions[last_from:]
