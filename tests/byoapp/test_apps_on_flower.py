"""Team apps on a real local Flower deployment: the SDK's pause, resume and checkpoints,
a missing dependency reported as the federation's failure reason, and a ClientApp that tries
every credential it can see to report progress."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from reconciler.cli import main
from reconciler.model import FederationKey, FederationSpec, Phase, RecordedFederation
from reconciler.runtime.base import Artifact, RunRequest
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.logprogress import Follow, LogFollower
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind
from reconciler.runtime.progress_server import ProgressServer
from reconciler.store import Store
from reconciler.store.endpoints import SUPERLINK
from tests.byoapp.apprepo import app_spec, make_app_repo

pytestmark = [pytest.mark.flower, pytest.mark.timeout(400)]

SECRET = b"byo-app-tier-secret-0123456789ab"
KEY = FederationKey("acme", "sdk")
HERE = Path(__file__).resolve().parent


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = make_app_repo(tmp_path_factory.mktemp("repo"), {})
    broken = root / "apps/broken"
    broken.mkdir()
    for path in (root / "apps/quickstart-numpy").rglob("*"):
        if path.is_file():
            target = broken / path.relative_to(root / "apps/quickstart-numpy")
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(path.read_bytes())
    server = broken / "quickstart_numpy/server_app.py"
    server.write_text("import thunderline_missing_dependency  # noqa: F401\n" + server.read_text())
    make_probe_app(root)
    return root


def make_probe_app(root: Path) -> None:
    """apps/sdk-probe: sdk-numpy's ServerApp with the hostile ClientApp of probe_client.py."""
    probe = root / "apps/sdk-probe"
    for path in (root / "apps/sdk-numpy").rglob("*"):
        if path.is_file() and "__pycache__" not in path.parts:
            target = probe / str(path.relative_to(root / "apps/sdk-numpy")).replace(
                "sdk_numpy", "sdk_probe"
            )
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(path.read_text().replace("sdk_numpy", "sdk_probe"))
    (probe / "sdk_probe/client_app.py").write_text((HERE / "probe_client.py").read_text())
    pyproject = probe / "pyproject.toml"
    text = pyproject.read_text().replace('name = "sdk-numpy"', 'name = "sdk-probe"')
    pyproject.write_text(
        text.replace('thunderline-control = ""', 'thunderline-control = ""\nprobe-dir = ""')
    )


@pytest.fixture(scope="module")
def runtime(tmp_path_factory: pytest.TempPathFactory) -> Iterator[FlowerRuntime]:
    with LocalFlower(
        tmp_path_factory.mktemp("flower"), supernodes=2, progress_key=SECRET
    ) as flower:
        driver = flower.runtime()
        yield driver
        driver.close()


NODE_KINDS = (ReportKind.CLIENT_JOINED, ReportKind.NODE_LABELS)  # about nodes, not rounds


class Sink:
    """Records reports; `pause_at` answers pause to that round's checkpoint report."""

    def __init__(self, pause_at: int | None = None) -> None:
        self.pause_at = pause_at
        self.reports: list[ProgressReport] = []

    def report(self, r: ProgressReport) -> Directive:
        self.reports.append(r)
        if r.kind == ReportKind.CHECKPOINT and r.round == self.pause_at:
            return Directive.PAUSE
        return Directive.CONTINUE

    def kinds(self, attempt: int) -> list[tuple[str, int]]:
        return [
            (str(r.kind), r.round)
            for r in self.reports
            if r.attempt == attempt and r.kind not in NODE_KINDS
        ]

    def last(self, kind: ReportKind) -> ProgressReport:
        return [r for r in self.reports if r.kind == kind][-1]


def document(app: str, **config: Any) -> dict[str, Any]:
    lines = "\n".join(f"{k}: {v}" for k, v in {"num-server-rounds": 3, **config}.items())
    doc: dict[str, Any] = yaml.safe_load(app_spec(KEY.name, app, rounds=3, config=lines))
    return doc


def request(
    repo: Path, doc: dict[str, Any], url: str, attempt: int, key: FederationKey = KEY, **more: Any
) -> RunRequest:
    return RunRequest(
        key=key,
        generation=1,
        attempt=attempt,
        document=doc,
        checkpoint_base=(repo / "checkpoints/g1").as_uri(),
        repo_root=str(repo),
        progress_url=url,
        **more,
    )


def wait_finished(runtime: FlowerRuntime, run_id: int, timeout: float = 180) -> tuple[str, ...]:
    deadline = time.monotonic() + timeout
    while (status := runtime.status(run_id))[0] != "finished":
        assert time.monotonic() < deadline, f"run {run_id} still {status}"
        time.sleep(0.5)
    return status


def test_the_sdk_app_pauses_resumes_and_checkpoints(runtime: FlowerRuntime, repo: Path) -> None:
    doc = document("sdk-numpy", **{"fraction-evaluate": 0.0})
    sink = Sink(pause_at=1)
    with ProgressServer(sink, SECRET) as server:
        first = runtime.submit(request(repo, doc, server.url, 1))
        assert wait_finished(runtime, first)[:2] == ("finished", "completed")
        assert sink.kinds(1) == [
            ("round_started", 1),
            ("round_completed", 1),
            ("checkpoint", 1),
            ("paused", 1),
        ]
        paused = sink.last(ReportKind.PAUSED).artifact
        assert paused is not None
        resume = Artifact(paused.uri, paused.sha256)
        second = runtime.submit(
            request(repo, doc, server.url, 2, start_round=2, resume_from=resume)
        )
        assert wait_finished(runtime, second)[:2] == ("finished", "completed")
    assert sink.kinds(2) == [
        ("round_started", 2),
        ("round_completed", 2),
        ("checkpoint", 2),
        ("round_started", 3),
        ("round_completed", 3),
        ("checkpoint", 3),
        ("completed", 3),
    ]
    done = sink.last(ReportKind.COMPLETED)
    assert done.artifact is not None and done.artifact.uri.endswith("g1/round-0003.npz")
    final = Path(done.artifact.uri.removeprefix("file://")).read_bytes()
    assert hashlib.sha256(final).hexdigest() == done.artifact.sha256
    losses = [r.metrics["train_loss"] for r in sink.reports if r.kind == ReportKind.ROUND_COMPLETED]
    assert len(losses) == 3 and losses == sorted(losses, reverse=True)  # learning went on
    assert runtime.find_run(KEY, 1, 2) == second  # the driver finds team-app runs too


@pytest.fixture(scope="module")
def broken_run(runtime: FlowerRuntime, repo: Path) -> tuple[int, RecordedFederation]:
    """A finished run of an app whose ServerApp imports a module that is not installed."""
    doc = document("broken")
    key = FederationKey("acme", "broken")
    run_id = runtime.submit(request(repo, doc, "http://127.0.0.1:9/unused", 1, key))
    wait_finished(runtime, run_id, timeout=90)
    record = RecordedFederation(
        key, "specs/acme/broken.yaml", doc, "d", 1, 1, Phase.STARTING, attempt=1, run_generation=1
    )
    return run_id, record


def test_a_missing_dependency_becomes_the_failure_reason(
    runtime: FlowerRuntime, broken_run: tuple[int, RecordedFederation]
) -> None:
    run_id, record = broken_run
    [observed] = [o for o in runtime.observe() if o.run_id == run_id]
    sink = Sink()
    follower = LogFollower(runtime, sink, lambda d: Follow.ROUNDS)
    follower.follow({record.key: record}, {record.key: observed})
    [failed] = sink.reports
    assert failed.kind == ReportKind.FAILED
    assert "ModuleNotFoundError: No module named 'thunderline_missing_dependency'" in failed.message
    assert "preinstall it on the SuperLink and SuperNodes" in failed.message


@pytest.mark.pg
def test_reconciler_logs_prints_the_runs_log_from_the_recorded_superlink(
    runtime: FlowerRuntime,
    broken_run: tuple[int, RecordedFederation],
    pg_url: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    run_id, record = broken_run
    with Store.connect(pg_url) as store:
        store.migrate()
        store.create(FederationSpec(record.key, record.path, record.document))
        store.record_run(record.key, generation=1, attempt=1, run_id=run_id, status="finished")
        store.record_endpoint(SUPERLINK, runtime.address)  # as the daemon does at start
    # No --superlink: the one the daemon recorded; -f returns once the run is finished.
    assert main(["logs", "broken", "-f", "--database-url", pg_url]) == 0
    out = capsys.readouterr().out
    assert "ServerApp raised an exception" in out
    assert "ModuleNotFoundError: No module named 'thunderline_missing_dependency'" in out


def test_a_client_app_cannot_report_with_anything_it_sees(
    runtime: FlowerRuntime, repo: Path, tmp_path: Path
) -> None:
    """Each ClientApp posts a forged `failed` report with every value of its run config,
    node config and environment (and every file an environment variable names) as the token,
    and as the key to derive one from: the daemon's endpoint answers 401 to all of them and
    only the ServerApp's own reports arrive."""
    probes = tmp_path / "probes"
    key = FederationKey("acme", "probe")
    doc = document("sdk-probe", **{"num-server-rounds": 1, "fraction-evaluate": 0.0})
    doc["spec"]["rounds"]["total"] = 1
    doc["spec"]["app"]["config"]["probe-dir"] = str(probes)
    sink = Sink()
    with ProgressServer(sink, SECRET) as server:
        run_id = runtime.submit(request(repo, doc, server.url, 1, key))
        assert wait_finished(runtime, run_id)[:2] == ("finished", "completed")
    found = [json.loads(p.read_text()) for p in sorted(probes.glob("node-*.json"))]
    assert len(found) == 2  # both SuperNodes' ClientApps probed
    for node in found:
        assert node["tried"] >= 60, node  # run config, node config and environment
        assert node["statuses"] == {"401": node["tried"]}, node
    assert not [r for r in sink.reports if r.message == "forged by a ClientApp"]
    assert [(str(r.kind), r.round) for r in sink.reports if r.kind not in NODE_KINDS] == [
        ("round_started", 1),
        ("round_completed", 1),
        ("checkpoint", 1),
        ("completed", 1),
    ]
    print(f"\nClientApps tried {sum(n['tried'] for n in found)} tokens: all 401")
