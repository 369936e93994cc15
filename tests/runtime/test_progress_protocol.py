"""The progress protocol: tokens, the server-side adapter, and a client that survives blips."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import ClassVar

import pytest

from reconciler.runtime.progress import (
    ArtifactInfo,
    Directive,
    ProgressClient,
    ProgressRejected,
    ProgressReport,
    ReportKind,
    handle_progress,
    make_token,
    verify_token,
)
from reconciler.runtime.progress_server import ProgressServer

SECRET = b"k" * 32
FED = "acme/digits"


class Sink:
    def __init__(self, directive: Directive = Directive.CONTINUE) -> None:
        self.reports: list[ProgressReport] = []
        self.directive = directive

    def report(self, r: ProgressReport) -> Directive:
        self.reports.append(r)
        return self.directive


def _report(**changes: object) -> ProgressReport:
    base: dict[str, object] = {
        "federation": FED,
        "generation": 3,
        "attempt": 1,
        "kind": ReportKind.CHECKPOINT,
        "round": 2,
        "run_id": 77,
        "metrics": {"accuracy": 0.9},
        "artifact": ArtifactInfo("file:///x/round-0002.npz", "ab" * 32, 10),
    }
    base.update(changes)
    return ProgressReport(**base)  # type: ignore[arg-type]


def _headers(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}


def test_token_is_bound_to_federation_generation_and_attempt() -> None:
    token = make_token(SECRET, FED, 3, 1)
    assert verify_token(SECRET, token, FED, 3, 1)
    assert not verify_token(SECRET, token, FED, 3, 2)
    assert not verify_token(SECRET, token, FED, 4, 1)
    assert not verify_token(SECRET, token, "acme/other", 3, 1)
    assert not verify_token(b"other-secret", token, FED, 3, 1)


def test_report_round_trips_through_json() -> None:
    report = _report()
    assert ProgressReport.from_json(report.to_json()) == report


def test_valid_report_reaches_the_sink_and_the_directive_comes_back() -> None:
    sink = Sink(Directive.PAUSE)
    status, body = handle_progress(
        _headers(make_token(SECRET, FED, 3, 1)), _report().to_json(), secret=SECRET, sink=sink
    )
    assert (status, json.loads(body)) == (200, {"directive": "pause"})
    assert sink.reports == [_report()]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, _report().to_json(), 401),
        (_headers(make_token(SECRET, FED, 3, 2)), _report().to_json(), 401),
        (_headers("x"), b"{not json", 400),
        (_headers("x"), json.dumps({"federation": FED}).encode(), 400),
        (_headers("x"), b'{"federation": "a", "generation": 1, "attempt": 1, "kind": "nope"}', 400),
        (_headers("x"), b"x" * (64 * 1024 + 1), 413),
    ],
)
def test_bad_requests_never_reach_the_sink(
    headers: dict[str, str], body: bytes, status: int
) -> None:
    sink = Sink()
    got, _ = handle_progress(headers, body, secret=SECRET, sink=sink)
    assert got == status
    assert sink.reports == []


def test_non_finite_metrics_are_rejected() -> None:
    raw = _report().to_json().replace(b'"accuracy": 0.9', b'"accuracy": NaN')
    with pytest.raises(ValueError, match="finite"):
        ProgressReport.from_json(raw)


def test_client_posts_through_a_real_http_server() -> None:
    sink = Sink(Directive.STOP)
    with ProgressServer(sink, SECRET) as server:
        client = ProgressClient(server.url, make_token(SECRET, FED, 3, 1))
        assert client.report(_report()) == Directive.STOP
    assert sink.reports == [_report()]


def test_client_with_a_wrong_token_is_refused_without_retrying() -> None:
    sink = Sink()
    with ProgressServer(sink, SECRET) as server:
        client = ProgressClient(server.url, "wrong", delays=(5.0,))
        started = time.monotonic()
        with pytest.raises(ProgressRejected, match="HTTP 401"):
            client.report(_report())
    assert time.monotonic() - started < 2.0
    assert sink.reports == []


class Flaky(BaseHTTPRequestHandler):
    """Answers `status` (503 by default) to the first `failures` requests, then continue."""

    failures: ClassVar[int] = 2
    seen: ClassVar[int] = 0
    status: ClassVar[int] = 503

    def do_POST(self) -> None:
        type(self).seen += 1
        self.rfile.read(int(self.headers["Content-Length"]))
        ok = type(self).seen > type(self).failures
        body = b'{"directive": "continue"}' if ok else b"{}"
        self.send_response(200 if ok else type(self).status)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: object) -> None:
        pass


@pytest.mark.parametrize("status", [503, 429])  # server error; rate limit ("slow down")
def test_client_retries_server_errors_with_backoff(status: int) -> None:
    handler = type("FlakyOnce", (Flaky,), {"seen": 0, "status": status})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/progress"
        directive = ProgressClient(url, "t", delays=(0.01, 0.01, 0.01)).report(_report())
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert directive == Directive.CONTINUE
    assert handler.seen == 3


def test_client_goes_on_when_the_daemon_stays_down() -> None:
    with ProgressServer(Sink(), SECRET) as server:
        url = server.url
    client = ProgressClient(url, "t", delays=(0.01, 0.02))
    assert client.report(_report()) == Directive.CONTINUE
