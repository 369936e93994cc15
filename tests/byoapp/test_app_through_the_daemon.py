"""A Flower-quickstart-style app (no SDK) pushed to Git runs to completion through the
daemon, with its rounds shown: real Git remote, PostgreSQL and local Flower."""

from __future__ import annotations

import time
from functools import partial
from pathlib import Path

import pytest
import yaml

from reconciler.daemon.service import Daemon, Parts
from reconciler.model import FederationKey, Phase
from reconciler.plan import PlanOptions
from reconciler.report import StatusWriter
from reconciler.runtime.apps import log_follow_mode
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.logprogress import LogFollower
from reconciler.settings import (
    ArtifactSettings,
    HttpSettings,
    ReportSettings,
    Settings,
    SourceSettings,
)
from reconciler.source import GitSource
from reconciler.specs.policyfile import load_policy
from reconciler.store import Store
from tests.byoapp.apprepo import APPS, app_spec
from tests.source.gitutil import isolated_git, make_remote
from tests.support.policies import EXAMPLE_POLICY

__all__ = ["isolated_git"]

POLICY = load_policy(EXAMPLE_POLICY)

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.flower,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(400),
]

KEY = FederationKey("acme", "quickstart")
PROGRESS_KEY = b"byo-e2e-progress-key-0123"  # the daemon's and the local SuperLink's
SPEC = "specs/acme/quickstart.yaml"


def repository_files() -> dict[str, str]:
    files: dict[str, str] = {SPEC: app_spec(config="num-server-rounds: 2\nfraction-evaluate: 0.0")}
    for path in (APPS / "quickstart-numpy").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            files[f"apps/{path.relative_to(APPS).as_posix()}"] = path.read_text()
    return files


def wait_terminal(store: Store, timeout: float) -> tuple[Phase | None, str]:
    deadline = time.monotonic() + timeout
    phase, reason = None, ""
    while time.monotonic() < deadline and not (phase and phase.terminal):
        time.sleep(1)
        record = store.load_recorded().get(KEY)
        if record is not None:
            phase, reason = record.phase, record.reason
    return phase, reason


def test_an_app_without_the_sdk_completes_with_its_rounds_shown(
    tmp_path: Path, pg_url: str
) -> None:
    (tmp_path / "git").mkdir()
    remote = make_remote(tmp_path / "git", repository_files())
    settings = Settings(
        source=SourceSettings(repo=remote.url, interval=5, workdir=tmp_path / "source"),
        artifacts=ArtifactSettings(root=str(tmp_path / "artifacts")),
        report=ReportSettings(workdir=tmp_path / "status"),
        http=HttpSettings(port=0),
        plan=PlanOptions(policy=POLICY),  # acme may bring its own app
    )
    flower = LocalFlower(tmp_path / "flower", supernodes=2, progress_key=PROGRESS_KEY)
    with flower, Store.connect(pg_url) as store:
        store.migrate()
        runtime = FlowerRuntime(flower.address)
        source = GitSource(remote.url, tmp_path / "source")
        parts = Parts(
            store=store,
            runtime=runtime,
            source=source,
            writer=StatusWriter(tmp_path / "status", remote=remote.url),
            leader=None,
            progress_secret=PROGRESS_KEY,
            webhook_secret=None,
        )
        daemon = Daemon(settings, parts)
        follow_mode = partial(log_follow_mode, repo_root=Path(source.workdir))
        daemon.reconciler.log_follower = LogFollower(runtime, daemon.sink, follow_mode)
        daemon.start()
        try:
            phase, reason = wait_terminal(store, timeout=300)
            assert phase is Phase.COMPLETED, reason
            rounds = [(r.number, r.status) for r in store.rounds(KEY)]
            metrics = [r.metrics for r in store.rounds(KEY)]
            assert daemon.cycle_now(timeout=60)
        finally:
            daemon.stop()
            runtime.close()
    assert rounds == [(1, "completed"), (2, "completed")]
    assert all(m["train/train_loss"] < 1.0 for m in metrics)  # read from Flower's own log lines
    status = yaml.safe_load(remote.show(remote.head(), "status/acme/quickstart.yaml"))["status"]
    assert status["phase"] == "Completed"
    assert status["rounds"] == {"current": 2, "total": 2}
