"""A real federation on Flower joins the daemon's trace: the ServerApp's round, aggregate,
artifact and completion spans reach a real OTLP collector (rotel) under the launch span, and
a spec's own `telemetry.otlp` collector gets them too, with its secret headers kept out of
every status, log and span.

Real Git remote, real PostgreSQL, a local SuperLink with three SuperNodes, the daemon with
its HTTP progress endpoint; the SuperLink inherits the OTEL_* variables, as in a deployment.
"""

from __future__ import annotations

import logging
import shutil
import time
from pathlib import Path

import pytest
import yaml

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
from reconciler.telemetry.names import (
    AGGREGATE,
    APP_SERVICE,
    ARTIFACT_WRITE,
    FEDERATION_COMPLETE,
    FEDERATION_START,
    ROUND,
)
from tests.e2e.test_push_to_completed_federation import SPEC_PATH, seeded_files
from tests.source.gitutil import Remote, git, make_remote
from tests.telemetry.servers import Rotel, SpanDump

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.flower,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(420),  # ~60 s alone; Flower start-up and shutdown slow down under load
]

SECRET = "tenant-otlp-key-0f9e8d7c"
FEDERATION = "acme/digits-fedavg"


def push_federation(tmp_path: Path, tenant_endpoint: str) -> Remote:
    """A remote holding the example federation (2 rounds) with its own OTLP collector."""
    files = seeded_files()
    document = yaml.safe_load(str(files[SPEC_PATH]))
    document["spec"]["telemetry"] = {
        "otlp": {"enabled": True, "endpoint": tenant_endpoint, "headers": {"api-key": SECRET}}
    }
    files[SPEC_PATH] = yaml.safe_dump(document, sort_keys=False)
    (tmp_path / "git").mkdir()
    remote = make_remote(tmp_path / "git", {SPEC_PATH: "placeholder"})
    for path, content in files.items():
        target = remote.clone / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(content if isinstance(content, bytes) else content.encode())
    git(remote.clone, "add", "--all")
    git(remote.clone, "commit", "--quiet", "-m", "example federation with its collector")
    git(remote.clone, "push", "--quiet", "origin", "main")
    return remote


def run_to_completion(tmp_path: Path, pg_url: str, repo: str) -> None:
    settings = Settings(
        source=SourceSettings(repo=repo, interval=5, workdir=tmp_path / "source"),
        artifacts=ArtifactSettings(root=str(tmp_path / "artifacts")),
        report=ReportSettings(workdir=tmp_path / "status"),
        http=HttpSettings(port=0),
    )
    flower = LocalFlower(tmp_path / "flower", supernodes=3, progress_key=b"telemetry-secret")
    with flower, Store.connect(pg_url) as store:
        store.migrate()
        runtime = FlowerRuntime(flower.address)
        parts = Parts(
            store=store,
            runtime=runtime,
            source=GitSource(repo, tmp_path / "source"),
            writer=StatusWriter(tmp_path / "status", remote=repo),
            leader=None,
            progress_secret=b"telemetry-secret",
            webhook_secret=None,
        )
        daemon = Daemon(settings, parts).start()
        try:
            deadline, phase, reason = time.monotonic() + 300, None, ""
            while time.monotonic() < deadline and not (phase and phase.terminal):
                time.sleep(1)
                for record in store.load_recorded().values():
                    phase, reason = record.phase, record.reason
            assert phase is Phase.COMPLETED, reason
            assert daemon.cycle_now(timeout=60)
        finally:
            daemon.stop()
            runtime.close()


def named(spans: list[SpanDump], name: str) -> list[SpanDump]:
    return [s for s in spans if s.name == name and s.attributes.get("federation_id") == FEDERATION]


def app_spans_done(spans: list[SpanDump]) -> bool:
    return bool(named(spans, FEDERATION_COMPLETE)) and len(named(spans, ROUND)) == 2


def test_federation_rounds_join_the_launch_trace_at_both_collectors(
    tmp_path: Path,
    pg_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    operator, tenant = Rotel.start(tmp_path / "operator"), Rotel.start(tmp_path / "tenant")
    try:
        monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", operator.http)
        monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
        remote = push_federation(tmp_path, tenant.http)
        with caplog.at_level(logging.DEBUG):
            run_to_completion(tmp_path, pg_url, remote.url)
        spans = operator.wait_for(app_spans_done)
        tenant_spans = tenant.wait_for(app_spans_done)
    finally:
        operator.stop()
        tenant.stop()

    (start,) = named(spans, FEDERATION_START)
    rounds = sorted(named(spans, ROUND), key=lambda s: s.attributes["round_num"])
    assert [r.attributes["round_num"] for r in rounds] == ["1", "2"]
    assert all(r.service == APP_SERVICE and r.attributes["tenant"] == "acme" for r in rounds)
    assert {(r.trace_id, r.parent_id) for r in rounds} == {(start.trace_id, start.span_id)}
    by_round = {r.span_id: r.attributes["round_num"] for r in rounds}
    for name in (AGGREGATE, ARTIFACT_WRITE):
        children = named(spans, name)
        assert sorted(by_round[c.parent_id] for c in children) == ["1", "2"], name
        assert all(c.attributes["round_num"] == by_round[c.parent_id] for c in children)
    (complete,) = named(spans, FEDERATION_COMPLETE)
    assert (complete.trace_id, complete.parent_id) == (start.trace_id, start.span_id)
    assert complete.attributes["outcome"] == "completed"
    # The tenant's collector gets the run's spans (the launch span stays the operator's).
    assert sorted(s.span_id for s in named(tenant_spans, ROUND)) == sorted(by_round)
    assert not named(tenant_spans, FEDERATION_START)

    head = remote.head()
    reports = [remote.show(head, p) for p in remote.files_at(head) if p.startswith("status/")]
    assert len(reports) >= 2, "the status report and the index page were not committed"
    for text in (caplog.text, operator.log.read_text(), tenant.log.read_text(), *reports):
        assert SECRET not in text
    import subprocess

    print(
        "FLOWERGREP",
        subprocess.run(
            ["grep", "-rl", SECRET, str(tmp_path / "flower")], capture_output=True, text=True
        ).stdout,
    )
    shutil.rmtree(tmp_path / "flower", ignore_errors=True)
