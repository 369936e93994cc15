"""A daemon on real PostgreSQL and real Git remotes, with the in-memory Flower runtime.

`world` builds one: a bare remote seeded with a spec, a fresh database, a `FakeRuntime`
whose progress reports reach the daemon's own sink, and a started `Daemon` (interval long
enough that only the test drives cycles, through `daemon.cycle_now()`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from reconciler.daemon.desired import WORKTREE_EXCLUDES
from reconciler.daemon.service import Daemon, Parts
from reconciler.notify import NotifyConfig
from reconciler.plan import PlanOptions
from reconciler.report import StatusWriter
from reconciler.runtime.fake import FakeRuntime
from reconciler.settings import (
    ArtifactSettings,
    Backoff,
    HttpSettings,
    LeaderSettings,
    ReportSettings,
    Settings,
    SourceSettings,
)
from reconciler.source import GitSource
from reconciler.specs.policy import DEFAULT_POLICY, Policy, TenantRules
from reconciler.store import LeaderLock, Store
from tests.source.gitutil import Remote, git, isolated_git, make_remote

__all__ = ["isolated_git"]

SPEC = (Path(__file__).parents[2] / "specs" / "acme" / "digits-fedavg.yaml").read_text()
SPEC_PATH = "specs/acme/digits-fedavg.yaml"
WEBHOOK_SECRET = b"webhook-test-secret"


@dataclass
class World:
    remote: Remote
    store: Store
    runtime: FakeRuntime
    daemon: Daemon
    tmp: Path

    def push(self, files: dict[str, str | None], message: str) -> str:
        """A person's push. The daemon commits status concurrently, so a push can be
        rejected as non-fast-forward: pull and push again, as a person would."""
        for _ in range(5):
            try:
                return self.remote.commit(files, message)
            except AssertionError as exc:
                if "rejected" not in str(exc):
                    raise
                git(self.remote.clone, "reset", "--quiet", "--hard", "HEAD~1")
        raise AssertionError("push kept being rejected")

    def cycle(self) -> None:
        assert self.daemon.cycle_now(timeout=30), "cycle did not finish"

    def record(self, name: str = "digits-fedavg"):  # type: ignore[no-untyped-def]
        return {k.name: r for k, r in self.store.load_recorded().items()}[name]

    def run_ids(self) -> list[int]:
        return sorted(self.runtime.runs)

    def after_round_one(self) -> int:
        """Start the federation and let its run report round 1; the run's id."""
        self.cycle()
        (run_id,) = self.run_ids()
        self.runtime.advance(run_id)
        self.cycle()
        return run_id


def make_world(  # type: ignore[no-untyped-def]
    tmp: Path,
    pg_url: str,
    *,
    prune: bool = False,
    files: dict | None = None,
    interval: float = 3600,
    policy: Policy = DEFAULT_POLICY,
    leader: LeaderLock | None = None,
    leader_settings: LeaderSettings | None = None,
    backoff: Backoff | None = None,
    notifications: NotifyConfig | None = None,
    nodes: int = 3,
    max_running: int | None = None,
    api_token: bytes | None = None,
):
    (tmp / "git").mkdir()
    remote = make_remote(tmp / "git", files if files is not None else {SPEC_PATH: SPEC})
    store = Store.connect(pg_url)
    store.migrate()
    runtime = FakeRuntime(nodes=nodes)
    settings = Settings(
        source=SourceSettings(repo=remote.url, interval=interval, workdir=tmp / "source"),
        artifacts=ArtifactSettings(root=str(tmp / "artifacts")),
        report=ReportSettings(workdir=tmp / "status"),
        http=HttpSettings(port=0),
        plan=PlanOptions(prune=prune, policy=policy, max_running=max_running),
        leader=leader_settings or LeaderSettings(),
        backoff=backoff or Backoff(),
        notifications=notifications,
    )
    parts = Parts(
        store=store,
        runtime=runtime,
        source=GitSource(remote.url, tmp / "source", sparse_excludes=WORKTREE_EXCLUDES),
        writer=StatusWriter(tmp / "status", remote=remote.url, retry_delays=(0.05, 0.1, 0.2)),
        leader=leader,
        progress_secret=b"progress-test-secret",
        webhook_secret=WEBHOOK_SECRET,
        api_token=api_token,
        superlink="127.0.0.1:9093",  # what the daemon records for `reconciler logs`
    )
    daemon = Daemon(settings, parts)
    runtime.sink = daemon.sink
    return World(remote, store, runtime, daemon.start(), tmp)


def running(world: World) -> Iterator[World]:
    """`world` for the test, stopped and closed after it (a fixture's body)."""
    try:
        yield world
    finally:
        world.daemon.stop()
        world.store.close()


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[World]:
    yield from running(make_world(tmp_path, pg_url))


@pytest.fixture
def limited(tmp_path: Path, pg_url: str) -> Iterator[World]:
    """A world whose tenant acme may run one federation at once (maxConcurrent: 1)."""
    policy = Policy(tenants={"acme": TenantRules(max_concurrent=1)}, source="the test policy")
    yield from running(make_world(tmp_path, pg_url, policy=policy))
