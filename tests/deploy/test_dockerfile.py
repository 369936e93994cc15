"""deploy/Dockerfile (no Docker here to build it): hadolint finds nothing, the final image
runs as a fixed non-root user with the `reconciler` entry point, its default command
parses, and the build context (.dockerignore) admits exactly what `pip install .` reads."""

from __future__ import annotations

import fnmatch
import json
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

from tests.deploy.artefacts import (
    CHART,
    DOCKERFILE,
    ROOT,
    dockerfile_instructions,
    final_stage,
    reconciler_args,
)

IGNORE = ROOT / ".dockerignore"


def admitted(path: str) -> bool:
    """Docker's rule: the last matching .dockerignore pattern wins; `!` re-admits. A path
    is also excluded when a pattern matches one of its parent folders."""
    patterns = [
        line.strip()
        for line in IGNORE.read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    parts = path.split("/")
    candidates = ["/".join(parts[: i + 1]) for i in range(len(parts))]
    keep = True
    for pattern in patterns:
        negated = pattern.startswith("!")
        glob = pattern.lstrip("!").rstrip("/").replace("**/", "*")
        if any(fnmatch.fnmatchcase(c, glob) for c in candidates):
            keep = negated
    return keep


def copied_from_context() -> list[str]:
    """Sources of the COPY instructions that read the build context."""
    return [
        source
        for op, arg in dockerfile_instructions()
        if op == "COPY" and not arg.startswith("--from")
        for source in arg.split()[:-1]
    ]


def test_hadolint_finds_nothing() -> None:
    hadolint = Path(sys.executable).parent / "hadolint"

    result = subprocess.run(
        [str(hadolint), str(DOCKERFILE)], capture_output=True, text=True, check=False
    )

    assert result.returncode == 0, result.stdout + result.stderr


def test_the_image_is_slim_python_311_running_as_a_fixed_non_root_user() -> None:
    stage = final_stage()
    user = [arg for op, arg in stage if op == "USER"][-1]
    uid = int(user.split(":")[0])
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    args = [arg for op, arg in dockerfile_instructions() if op == "ARG"]

    assert "PYTHON_IMAGE=python:3.11-slim" in args
    assert stage[0] == ("FROM", "${PYTHON_IMAGE}")
    assert uid >= 1000
    assert values["podSecurityContext"]["runAsUser"] == uid  # Kubernetes runs the same uid


def test_the_entry_point_is_reconciler_and_the_default_command_parses() -> None:
    stage = dict(final_stage())

    assert json.loads(stage["ENTRYPOINT"]) == ["reconciler"]
    args = reconciler_args(json.loads(stage["CMD"]))
    assert (args.command, args.host, args.port, args.repo) == ("run", "0.0.0.0", 8080, "/specs")
    assert stage["EXPOSE"] == str(args.port)


def test_the_image_has_what_the_chart_and_the_daemon_call() -> None:
    install = " ".join(arg for op, arg in final_stage() if op == "RUN")
    chart = "\n".join(p.read_text() for p in (CHART / "templates").glob("*.yaml"))

    assert "git" in install.split() and "openssh-client" in install.split()
    assert "tini" in install.split() and "command: [tini, --," in chart
    smoke = " ".join(arg for op, arg in dockerfile_instructions() if op == "RUN")
    for program in ("flower-superlink", "flower-supernode", "flower-superexec", "load_schema"):
        assert program in smoke


def test_the_build_context_admits_what_pip_install_reads_and_nothing_else() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    sources = copied_from_context()

    for needed in (
        "pyproject.toml",
        project["readme"],
        "reconciler/cli/__init__.py",
        "schema/federation-spec.schema.json",
    ):
        assert admitted(needed), needed
    for source in sources:
        assert admitted(source), source
    for excluded in (
        ".venv/bin/python",
        ".git/config",
        ".thunderline/pg/x",
        "tests/conftest.py",
        "deploy/compose.yaml",
        "reconciler/__pycache__/x.pyc",
    ):
        assert not admitted(excluded), excluded


def test_files_the_package_links_to_are_in_the_build_too() -> None:
    """A symlink in the package is copied as a link: its target must be in the build."""
    copied = copied_from_context()
    links = [p for p in (ROOT / "reconciler").rglob("*") if p.is_symlink()]

    for link in links:
        target = link.resolve().relative_to(ROOT).as_posix()
        assert admitted(target), target
        assert any(target == c or target.startswith(c.rstrip("/") + "/") for c in copied), target
