"""deploy/Dockerfile, read as text (tests/container builds and runs it): hadolint finds
nothing, the final image runs as a fixed non-root user with the `reconciler` entry point
under tini, its default command parses, its HEALTHCHECK asks that command's port, the
folders it writes are volumes, and the build context (.dockerignore) admits exactly what
the stages copy."""

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


def test_both_stages_are_debian_bookworm_and_the_image_runs_as_a_fixed_non_root_user() -> None:
    stage = final_stage()
    user = [arg for op, arg in stage if op == "USER"][-1]
    uid = int(user.split(":")[0])
    values = yaml.safe_load((CHART / "values.yaml").read_text())
    instructions = dockerfile_instructions()

    assert ("ARG", "BASE_IMAGE=debian:bookworm-slim") in instructions  # Debian's Python 3.11
    assert [arg for op, arg in instructions if op == "FROM"] == [
        "${BASE_IMAGE} AS requirements",
        "${BASE_IMAGE} AS build",
        "${BASE_IMAGE}",
    ]
    assert uid >= 1000
    assert values["podSecurityContext"]["runAsUser"] == uid  # Kubernetes runs the same uid


def test_the_entry_point_is_reconciler_under_tini_and_the_default_command_parses() -> None:
    stage = dict(final_stage())

    assert json.loads(stage["ENTRYPOINT"]) == ["tini", "--", "thunderline-entrypoint", "reconciler"]
    args = reconciler_args(json.loads(stage["CMD"]))
    assert (args.command, args.host, args.port, args.repo) == ("run", "0.0.0.0", 8080, "/specs")
    assert stage["EXPOSE"] == str(args.port)


def test_the_healthcheck_asks_the_default_commands_liveness_endpoint() -> None:
    stage = dict(final_stage())
    port = reconciler_args(json.loads(stage["CMD"])).port

    assert f"'http://127.0.0.1:{port}/healthz'" in stage["HEALTHCHECK"]
    assert "THUNDERLINE_HEALTH_URL" in stage["HEALTHCHECK"]  # another --port names its own


def test_every_folder_the_image_writes_is_a_volume_so_a_read_only_root_works() -> None:
    stage = dict(final_stage())
    volumes = json.loads(stage["VOLUME"])
    env = stage["ENV"]

    assert stage["WORKDIR"] in volumes  # the daemon's .thunderline/ and the demo's state
    assert "HOME=/var/lib/thunderline" in env and "FLWR_HOME=/var/lib/thunderline/" in env
    assert "/tmp" in volumes and "/state" in volumes  # lock files; the SuperLink's database


def test_the_image_has_what_the_chart_and_the_daemon_call() -> None:
    install = " ".join(arg for op, arg in final_stage() if op == "RUN")
    chart = "\n".join(p.read_text() for p in (CHART / "templates").glob("*.yaml"))

    assert "git" in install.split() and "openssh-client" in install.split()
    assert "tini" in install.split() and "command: [tini, --," in chart
    assert "libnss-wrapper" in install.split()  # deploy/entrypoint.sh, for unknown uids
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
        "specs/acme/digits-fedavg.yaml",  # the demo's examples
        "examples/data/digits/test.npz",
        "examples/models/digits-logreg-init.npz",
        "deploy/entrypoint.sh",
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
        "examples/apps/sdk-numpy/pyproject.toml",
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
