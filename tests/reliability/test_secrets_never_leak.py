"""Canary secrets go in everywhere a secret can come from, and nothing the system produced
holds one: status commits, events, logs, metrics, spans, plans, HTTP answers, error messages.

The daemon is assembled the production way (`real_parts`, from the environment): its
database URL carries a password (a real role on the test server; trust auth ignores it, the
URL still carries it), GIT_TOKEN, the S3 keys, the webhook and progress secrets are set, and
the spec sends an OTLP header. It runs a federation to completion on the in-memory runtime,
then meets the error paths that format a secret-bearing thing: a refused webhook, a bad
progress token, the Git remote gone, its database sessions killed, an https remote and an
S3 endpoint that do not answer, a database URL whose server is down.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter

from reconciler.daemon.assemble import real_parts
from reconciler.daemon.service import Daemon
from reconciler.plan import PlanOptions
from reconciler.plan.render import to_json, to_markdown, to_text
from reconciler.runtime.fake import FakeRuntime
from reconciler.runtime.flower import FlowerRuntime
from reconciler.settings import (
    ArtifactSettings,
    HttpSettings,
    ReportSettings,
    RuntimeSettings,
    Settings,
    SourceSettings,
)
from reconciler.source import GitSource, SourceError
from reconciler.store import Store, StoreError
from reconciler.telemetry.tracing import Tracing
from tests.conftest import ADMIN_URL
from tests.daemon.conftest import SPEC, SPEC_PATH
from tests.source.gitutil import isolated_git, make_remote

__all__ = ["isolated_git"]

pytestmark = [pytest.mark.pg, pytest.mark.git]

CANARIES = {
    "DATABASE_URL password": "canary-db-pw-7f3a9e",
    "AWS_SECRET_ACCESS_KEY": "canary-s3-secret-b81c4d",
    "MINIO_SECRET_KEY": "canary-minio-secret-55d0aa",
    "GIT_TOKEN": "canary-git-token-e42a17",
    "THUNDERLINE_WEBHOOK_SECRET": "canary-webhook-secret-91bd2c",
    "THUNDERLINE_PROGRESS_SECRET": "canary-progress-secret-0aa1f3",
    "OTLP header": "canary-otlp-header-3c77be",
}
TELEMETRY = (
    "  telemetry:\n    otlp:\n      enabled: true\n      endpoint: http://127.0.0.1:9/\n"
    f"      headers:\n        authorization: Bearer {CANARIES['OTLP header']}\n"
)


@pytest.fixture
def canary_db_url(pg_url: str) -> Iterator[str]:
    """`pg_url` reached as a role whose password is a canary."""
    role = f"canary_{uuid.uuid4().hex[:8]}"
    password = CANARIES["DATABASE_URL password"]
    with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
        admin.execute(f"CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'")
    try:
        yield pg_url.replace("postgres@", f"{role}:{password}@", 1)
    finally:
        with psycopg.connect(pg_url, autocommit=True) as db:
            db.execute(f"REASSIGN OWNED BY {role} TO postgres")
            db.execute(f"DROP OWNED BY {role}")
        with psycopg.connect(ADMIN_URL, autocommit=True) as admin:
            admin.execute(f"DROP ROLE {role}")


def http(method: str, url: str, body: bytes = b"", headers: dict[str, str] | None = None) -> str:
    request = urllib.request.Request(url, data=body or None, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return f"{response.status} {dict(response.headers)} {response.read().decode()}"
    except urllib.error.HTTPError as exc:
        return f"{exc.code} {dict(exc.headers)} {exc.read().decode()}"


def error_messages(tmp: Path, canary_url: str) -> list[str]:
    """Messages of the error types that format a secret-bearing URL or client."""
    found = []
    try:
        Store.connect(canary_url.replace(":5432/", ":9/"), timeout=2)
    except StoreError as exc:
        found.append(str(exc))
    try:
        GitSource("https://127.0.0.1:9/team/specs.git", tmp / "https-source").fetch()
    except SourceError as exc:
        found.append(str(exc))
    runtime = FlowerRuntime("127.0.0.1:9")
    try:
        runtime.observe()
    except Exception as exc:  # any message counts: none may hold a secret
        found.append(str(exc))
    finally:
        runtime.close()
    found += s3_messages(tmp)
    return found


def s3_messages(tmp: Path) -> list[str]:
    try:
        from reconciler.artifacts import ArtifactError
        from reconciler.artifacts.s3 import S3ArtifactStore
    except ImportError:  # the S3 store is not part of this checkout
        return []
    (tmp / "blob").write_bytes(b"x")
    try:
        S3ArtifactStore("s3://canary-bucket/prefix").put(tmp / "blob", "blob")
    except ArtifactError as exc:
        return [str(exc), repr(exc)]
    return []


def status_history(bare: Path) -> str:
    """Every commit the reconciler wrote (the specs themselves are the user's, not output)."""
    return subprocess.run(
        ["git", "log", "-p", "--all", "--format=%H %an <%ae>%n%B", "--", "status/"],
        cwd=bare,
        capture_output=True,
        text=True,
        check=True,
    ).stdout


def test_no_canary_appears_in_anything_the_system_produced(
    tmp_path: Path,
    canary_db_url: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    for name in ("AWS_SECRET_ACCESS_KEY", "MINIO_SECRET_KEY", "GIT_TOKEN"):
        monkeypatch.setenv(name, CANARIES[name])
    for name in ("THUNDERLINE_WEBHOOK_SECRET", "THUNDERLINE_PROGRESS_SECRET"):
        monkeypatch.setenv(name, CANARIES[name])
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "canary-access-key-id")
    monkeypatch.setenv("AWS_ENDPOINT_URL_S3", "http://127.0.0.1:9")
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("DATABASE_URL", canary_db_url)
    spans = InMemorySpanExporter()
    tracing = Tracing.build("canary", [spans], batch=False)
    monkeypatch.setattr(Tracing, "from_env", classmethod(lambda cls, service, extra=(): tracing))
    caplog.set_level("DEBUG")
    (tmp_path / "git").mkdir()
    remote = make_remote(tmp_path / "git", {SPEC_PATH: SPEC + TELEMETRY})
    settings = Settings(
        source=SourceSettings(repo=remote.url, interval=3600, workdir=tmp_path / "source"),
        runtime=RuntimeSettings(superlink="127.0.0.1:9"),
        artifacts=ArtifactSettings(root=str(tmp_path / "artifacts")),
        report=ReportSettings(workdir=tmp_path / "status"),
        http=HttpSettings(port=0),
        plan=PlanOptions(),
    )
    produced: list[str] = []
    with real_parts(settings, leader_election=True) as parts:
        runtime = parts.runtime = FakeRuntime()
        daemon = Daemon(settings, parts)
        runtime.sink = daemon.sink
        daemon.start()
        try:
            assert daemon.cycle_now(timeout=30)
            (run_id,) = runtime.runs
            for _ in range(5):
                runtime.advance(run_id)
            assert daemon.cycle_now(timeout=30)
            rotated = TELEMETRY.replace(CANARIES["OTLP header"], "rotated-header")
            remote.commit({SPEC_PATH: SPEC + rotated}, "rotate the collector token")
            assert daemon.cycle_now(timeout=30)  # the change is planned: old and new value
            assert daemon.last_outcome is not None and daemon.last_outcome.plan is not None
            plan = daemon.last_outcome.plan
            assert any(c.path.startswith("spec.telemetry") for a in plan.actions for c in a.changes)
            produced += [to_text(plan), to_markdown(plan), json.dumps(to_json(plan))]
            produced.append(
                http(
                    "POST",
                    f"{daemon.http.url}/webhook",
                    b"{}",
                    {"X-Hub-Signature-256": "sha256=00"},
                )
            )
            produced.append(
                http("POST", f"{daemon.http.url}/v1/progress", b"{}", {"Authorization": "Bearer x"})
            )
            moved = remote.bare.with_name("moved.git")
            shutil.move(remote.bare, moved)  # the remote is gone for a cycle
            assert daemon.cycle_now(timeout=60)
            produced += daemon.last_outcome.errors
            shutil.move(moved, remote.bare)
            with psycopg.connect(ADMIN_URL, autocommit=True) as admin:  # every session killed
                admin.execute(
                    "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                    " WHERE datname = %s AND pid <> pg_backend_pid()",
                    (canary_db_url.rsplit("/", 1)[1],),
                )
            # The first request finds the leader lock's session gone (standby); a later one
            # takes the lock again and runs a cycle on new connections.
            assert any(daemon.cycle_now(timeout=5) for _ in range(12))
            produced += daemon.last_outcome.errors
            produced.append(http("GET", f"{daemon.http.url}/metrics"))
            produced.append(http("GET", f"{daemon.http.url}/readyz"))
            produced += [repr(s) for s in daemon.reporter.statuses.values()]
        finally:
            daemon.stop()
        with Store.connect(canary_db_url) as store:
            events = store.events(limit=100_000)
            assert any(e.type == "fl.federation.completed" for e in events)
            produced += [json.dumps(e.to_json(), default=str) for e in events]
    produced += error_messages(tmp_path, canary_db_url)
    produced.append(status_history(remote.bare))
    produced.append(caplog.text)
    produced += [r.getMessage() + str(r.exc_text or "") for r in caplog.records]
    finished = spans.get_finished_spans()
    assert finished, "the daemon recorded no spans"
    produced += [s.to_json() for s in finished]

    leaked = {
        what: [text[:300] for text in produced if value in text]
        for what, value in CANARIES.items()
        if any(value in text for text in produced)
    }
    assert leaked == {}
    assert "Completed" in "\n".join(produced)  # the scan did read real output
