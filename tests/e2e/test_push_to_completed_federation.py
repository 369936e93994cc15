"""The whole product on real parts: a pushed spec becomes a completed Flower federation.

Real Git remote, real PostgreSQL, a real local SuperLink with three SuperNodes, the daemon
with its HTTP progress endpoint; the checkpoint on disk must match the sha256 in the status
report committed back to the remote.
"""

from __future__ import annotations

import hashlib
import shutil
import time
from pathlib import Path

import pytest
import yaml

from reconciler.daemon.desired import WORKTREE_EXCLUDES
from reconciler.daemon.service import Daemon, Parts
from reconciler.model import Phase
from reconciler.report import StatusWriter
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import LocalFlower
from reconciler.settings import (
    ArtifactSettings,
    HttpSettings,
    ReportSettings,
    Settings,
    SourceSettings,
)
from reconciler.source import GitSource
from reconciler.store import Store
from tests.source.gitutil import Remote, git, isolated_git, make_remote

__all__ = ["isolated_git"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.flower,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(600),  # a few rounds of real Flower; slow on a loaded machine
]

PROJECT = Path(__file__).parents[2]
SPEC_PATH = "specs/acme/digits-fedavg.yaml"
PROGRESS_KEY = b"e2e-progress-key-0123456789"  # the daemon's and the local SuperLink's


def seeded_files() -> dict[str, str | bytes]:
    spec = (PROJECT / SPEC_PATH).read_text().replace("total: 5", "total: 2")
    files: dict[str, str | bytes] = {SPEC_PATH: spec}
    for folder, target in (("examples/data", "data"), ("examples/models", "models")):
        for path in (PROJECT / folder).rglob("*.npz"):
            files[f"{target}/{path.relative_to(PROJECT / folder)}"] = path.read_bytes()
    return files


def push_and_complete(tmp_path: Path, pg_url: str, files: dict[str, str | bytes]) -> Remote:
    """Push `files` to a new remote and run the daemon on real parts until the federation
    completes (asserted); the remote, with the status the daemon committed, is returned."""
    (tmp_path / "git").mkdir()
    remote = make_remote(tmp_path / "git", {SPEC_PATH: "placeholder"})
    for path, content in files.items():
        target = remote.clone / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(remote.clone, "add", "--all")
    git(remote.clone, "commit", "--quiet", "-m", "example federation with its data")
    git(remote.clone, "push", "--quiet", "origin", "main")
    settings = Settings(
        source=SourceSettings(repo=remote.url, interval=5, workdir=tmp_path / "source"),
        artifacts=ArtifactSettings(root=str(tmp_path / "artifacts")),
        report=ReportSettings(workdir=tmp_path / "status"),
        http=HttpSettings(port=0),
    )
    flower = LocalFlower(tmp_path / "flower", supernodes=3, progress_key=PROGRESS_KEY)
    with flower, Store.connect(pg_url) as store:
        store.migrate()
        runtime = FlowerRuntime(flower.address)
        parts = Parts(
            store=store,
            runtime=runtime,
            source=GitSource(remote.url, tmp_path / "source", sparse_excludes=WORKTREE_EXCLUDES),
            writer=StatusWriter(tmp_path / "status", remote=remote.url),
            leader=None,
            progress_secret=PROGRESS_KEY,
            webhook_secret=None,
        )
        daemon = Daemon(settings, parts).start()
        try:
            deadline = time.monotonic() + 300
            phase, reason = None, ""
            while time.monotonic() < deadline and not (phase and phase.terminal):
                time.sleep(1)
                for record in store.load_recorded().values():
                    phase, reason = record.phase, record.reason
            assert phase is Phase.COMPLETED, reason
            assert daemon.cycle_now(timeout=60)
        finally:
            daemon.stop()
            runtime.close()
    shutil.rmtree(tmp_path / "flower", ignore_errors=True)
    return remote


def test_pushed_spec_runs_to_completion_on_flower(tmp_path: Path, pg_url: str) -> None:
    remote = push_and_complete(tmp_path, pg_url, seeded_files())
    status = yaml.safe_load(remote.show(remote.head(), "status/acme/digits-fedavg.yaml"))["status"]
    assert status["phase"] == "Completed"
    assert status["rounds"] == {"current": 2, "total": 2}
    assert status["lastMetrics"]["accuracy"] > 0.5  # it learned something in two rounds
    artifact = Path(status["artifact"]["uri"].removeprefix("file://"))
    assert hashlib.sha256(artifact.read_bytes()).hexdigest() == status["artifact"]["sha256"]
