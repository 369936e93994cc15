"""The production path in containers of the shipped image: a SuperLink and three SuperNodes
speaking TLS, the daemon (read-only root) against the host's PostgreSQL and a Git remote.
A pushed spec runs to Completed, the status commit lands on the remote, the checkpoint's
sha256 matches its file, /readyz, /metrics and the image's HEALTHCHECK answer. And the
image's `demo` completes under an arbitrary uid with a read-only root and no network."""

from __future__ import annotations

import hashlib
import json
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

import pytest
import yaml

from reconciler.runtime.certs import ServerPki, write_private, write_server_pki
from tests.container.engine import IMAGE_UID, Containers, docker
from tests.e2e.test_push_to_completed_federation import SPEC_PATH, seeded_files
from tests.source.gitutil import Remote, free_port, git, isolated_git, make_remote

__all__ = ["isolated_git"]

pytestmark = [pytest.mark.container, pytest.mark.pg, pytest.mark.git, pytest.mark.timeout(1200)]

STATE = "/var/lib/thunderline/.thunderline"  # the daemon's state, its checkout under it
STATUS_PATH = "status/acme/digits-fedavg.yaml"
KEY_FILE = "/run/thunderline/progress-key/key"
T = TypeVar("T")


def own(*folders: Path) -> list[str]:
    """Make `folders` writable by the containers' user: the image's own uid when we are
    root (CI), else ours (the image gives an unknown uid a passwd entry)."""
    if os.geteuid() != 0:
        return ["--user", f"{os.getuid()}:{os.getgid()}"]
    for folder in folders:
        for path in (folder, *folder.rglob("*")):
            os.chown(path, IMAGE_UID, IMAGE_UID, follow_symlinks=False)
    return []


def wait_for(what: str, check: Callable[[], T | None], timeout: float) -> T:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(1)
    raise AssertionError(f"timed out after {timeout:.0f}s waiting for {what}")


def get(url: str) -> tuple[int, str]:
    try:
        with urllib.request.urlopen(url, timeout=5) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read().decode()


def push_spec(root: Path) -> Remote:
    root.mkdir()
    remote = make_remote(root, {"README.md": "specs\n"})
    files = seeded_files()  # the fedavg example for two rounds, with its data and model
    # Five containers' Python start-ups share the CI machine: a ClientApp that starts late
    # misses its heartbeat and is started again, so a round gets longer than the usual 120 s.
    spec = files[SPEC_PATH]
    assert isinstance(spec, str)
    files[SPEC_PATH] = spec.replace("timeoutSeconds: 120", "timeoutSeconds: 600")
    for path, content in files.items():
        target = remote.clone / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(remote.clone, "add", "--all")
    git(remote.clone, "commit", "--quiet", "-m", "example federation with its data")
    git(remote.clone, "push", "--quiet", "origin", "main")
    return remote


def start_flower(
    containers: Containers, tmp: Path, pki: ServerPki, user: list[str], port: int
) -> None:
    """A SuperLink with TLS and three SuperNodes that trust its CA only."""
    shared = ["-v", f"{tmp / 'tls'}:{tmp / 'tls'}:ro", "-v", f"{tmp / 'state'}:{STATE}:ro"]
    flower = [*user, "--read-only", "--no-healthcheck", *shared, "--entrypoint", "tini"]
    containers.start(
        "superlink",
        *flower,
        "-v", f"{tmp / 'artifacts'}:{tmp / 'artifacts'}",
        "-v", f"{tmp / 'key'}:{Path(KEY_FILE).parent}:ro",
        "-e", f"THUNDERLINE_PROGRESS_KEY_FILE={KEY_FILE}",
        "--", "--", "flower-superlink",
        "--ssl-ca-certfile", str(pki.ca_file),
        "--ssl-certfile", str(pki.cert_file),
        "--ssl-keyfile", str(pki.key_file),
        "--host", "127.0.0.1", "--port", str(port),
        "--database", "/state/state.db",
        "--disable-runtime-dependency-installation",
    )  # fmt: skip
    for index in range(3):
        containers.start(
            f"supernode-{index}",
            *flower,
            "--", "--", "flower-supernode",
            "--root-certificates", str(pki.ca_file),
            "--superlink", f"127.0.0.1:{port}",
            "--host", "127.0.0.1", "--port", str(free_port()),
            "--node-config", f"partition-id={index} num-partitions=3",
        )  # fmt: skip


def test_a_pushed_spec_completes_on_flower_over_tls_all_in_containers(
    containers: Containers, tmp_path: Path, pg_url: str
) -> None:
    (tmp_path / "gitconfig-global").write_text("[safe]\n\tdirectory = *\n")  # the image's files
    remote = push_spec(tmp_path / "git")
    for folder in ("state", "artifacts", "key"):
        (tmp_path / folder).mkdir()
    write_private(tmp_path / "key" / "key", os.urandom(32).hex().encode())
    pki = write_server_pki(tmp_path / "tls")
    folders = ("git", "state", "artifacts", "key", "tls")
    user = own(*(tmp_path / f for f in folders))
    flower_port, http_port = free_port(), free_port()
    start_flower(containers, tmp_path, pki, user, flower_port)
    url = f"http://127.0.0.1:{http_port}"
    containers.start(
        "daemon",
        *user,
        "--read-only",
        "-v", f"{tmp_path / 'git'}:{tmp_path / 'git'}",
        "-v", f"{tmp_path / 'state'}:{STATE}",
        "-v", f"{tmp_path / 'artifacts'}:{tmp_path / 'artifacts'}",
        "-v", f"{tmp_path / 'tls'}:{tmp_path / 'tls'}:ro",
        "-v", f"{tmp_path / 'key'}:{Path(KEY_FILE).parent}:ro",
        "-e", f"DATABASE_URL={pg_url}",
        "-e", f"THUNDERLINE_HEALTH_URL={url}/healthz",
        "--",
        "run", "--repo", str(remote.bare), "--interval", "3",
        "--superlink", f"127.0.0.1:{flower_port}", "--flower-ca-file", str(pki.ca_file),
        "--artifact-root", str(tmp_path / "artifacts"),
        "--progress-key-file", KEY_FILE,
        "--host", "127.0.0.1", "--port", str(http_port), "--public-url", url,
    )  # fmt: skip

    def finished() -> dict[str, Any] | None:
        head = remote.head()
        if STATUS_PATH not in remote.files_at(head):
            return None
        status: dict[str, Any] = yaml.safe_load(remote.show(head, STATUS_PATH))["status"]
        return status if status["phase"] in ("Completed", "Failed", "Stopped") else None

    status = wait_for("a final status commit on the remote", finished, 900)
    assert status["phase"] == "Completed", status
    assert status["rounds"] == {"current": 2, "total": 2}
    artifact = Path(status["artifact"]["uri"].removeprefix("file://"))
    assert tmp_path / "artifacts" in artifact.parents
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == status["artifact"]["sha256"]

    code, body = get(f"{url}/readyz")
    assert code == 200, body
    assert json.loads(body)["sourceFetched"] is True
    code, body = get(f"{url}/metrics")
    assert code == 200, body
    rounds = [ln for ln in body.splitlines() if ln.startswith("fl_rounds_completed_total{")]
    assert rounds and float(rounds[0].split()[-1]) == 2.0, rounds
    health = "{{.State.Health.Status}}"
    daemon = f"{containers.prefix}-daemon"
    wait_for(
        "a healthy HEALTHCHECK", lambda: docker("inspect", "-f", health, daemon) == "healthy", 60
    )
    assert SPEC_PATH in remote.files_at(remote.head())


def test_the_demo_completes_as_an_arbitrary_uid_with_a_read_only_root(
    containers: Containers,
) -> None:
    name = containers.start("demo", "--user", "4242:0", "--read-only", "--", "demo", network="none")
    exit_code = docker("wait", name, timeout=480)

    out = docker("logs", name)
    assert exit_code == "0", out
    final = out.split("Final status", 1)[1]
    assert final.count(" Completed ") == 3, final  # the three example federations
    assert final.count("sha256:") == 3, final
