"""The progress protocol: tokens, the key the SuperLink side holds, the server-side adapter
with its refusals, and a client that survives blips."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import ClassVar

import pytest

from reconciler.runtime.progress import (
    PROGRESS_KEY_ENV,
    PROGRESS_KEY_FILE_ENV,
    ArtifactInfo,
    Directive,
    ProgressClient,
    ProgressKeyMissing,
    ProgressRejected,
    ProgressReport,
    Refusal,
    ReportKind,
    ReportRefused,
    handle_progress,
    make_token,
    progress_key,
    run_client,
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


def test_token_is_bound_to_federation_generation_attempt_and_run_id() -> None:
    token = make_token(SECRET, FED, 3, 1, 77)
    assert verify_token(SECRET, token, FED, 3, 1, 77)
    assert not verify_token(SECRET, token, FED, 3, 2, 77)
    assert not verify_token(SECRET, token, FED, 4, 1, 77)
    assert not verify_token(SECRET, token, "acme/other", 3, 1, 77)
    assert not verify_token(SECRET, token, FED, 3, 1, 78)
    assert not verify_token(b"other-secret", token, FED, 3, 1, 77)
    assert not verify_token(SECRET, token.upper(), FED, 3, 1, 77)
    assert not verify_token(SECRET, "\udcff", FED, 3, 1, 77)  # odd bytes: refused, no crash


def test_report_round_trips_through_json() -> None:
    report = _report()
    assert ProgressReport.from_json(report.to_json()) == report


def test_valid_report_reaches_the_sink_and_the_directive_comes_back() -> None:
    sink = Sink(Directive.PAUSE)
    status, body = handle_progress(
        _headers(make_token(SECRET, FED, 3, 1, 77)), _report().to_json(), secret=SECRET, sink=sink
    )
    assert (status, json.loads(body)) == (200, {"directive": "pause"})
    assert sink.reports == [_report()]


@pytest.mark.parametrize(
    ("headers", "body", "status"),
    [
        ({}, _report().to_json(), 401),
        (_headers(make_token(SECRET, FED, 3, 2, 77)), _report().to_json(), 401),
        (_headers(make_token(SECRET, FED, 3, 1, 78)), _report().to_json(), 401),
        (_headers(make_token(SECRET, FED, 3, 1, 77)), _report(run_id=None).to_json(), 400),
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
    seen: list[Refusal] = []
    got, reply = handle_progress(
        headers, body, secret=SECRET, sink=sink, on_refused=lambda r, _: seen.append(r)
    )
    assert got == status
    assert sink.reports == []
    assert [r.status for r in seen] == [status]  # one refusal, told once
    assert json.loads(reply)["reason"] == seen[0].reason


def test_a_sink_refusal_becomes_the_answer_with_its_directive() -> None:
    class Refusing:
        def report(self, r: ProgressReport) -> Directive:
            raise ReportRefused(Refusal(409, "superseded", "not current", Directive.STOP))

    seen: list[Refusal] = []
    status, body = handle_progress(
        _headers(make_token(SECRET, FED, 3, 1, 77)),
        _report().to_json(),
        secret=SECRET,
        sink=Refusing(),
        on_refused=lambda r, _: seen.append(r),
    )
    assert (status, json.loads(body)) == (
        409,
        {"error": "not current", "reason": "superseded", "directive": "stop"},
    )
    assert seen == []  # the sink tells its own refusals


def test_non_finite_metrics_are_rejected() -> None:
    raw = _report().to_json().replace(b'"accuracy": 0.9', b'"accuracy": NaN')
    with pytest.raises(ValueError, match="finite"):
        ProgressReport.from_json(raw)


def test_client_posts_through_a_real_http_server() -> None:
    sink = Sink(Directive.STOP)
    with ProgressServer(sink, SECRET) as server:
        client = ProgressClient(server.url, make_token(SECRET, FED, 3, 1, 77))
        assert client.report(_report()) == Directive.STOP
    assert sink.reports == [_report()]


def test_client_with_a_wrong_token_is_refused_without_retrying() -> None:
    sink = Sink()
    with ProgressServer(sink, SECRET) as server:
        client = ProgressClient(server.url, "wrong", delays=(5.0,))
        started = time.monotonic()
        with pytest.raises(ProgressRejected, match="HTTP 401") as caught:
            client.report(_report())
    assert time.monotonic() - started < 2.0
    assert sink.reports == []
    assert caught.value.unauthorised and caught.value.reason == "bad-token"


def test_client_hands_back_the_refusals_reason_and_directive() -> None:
    class Refusing:
        def report(self, r: ProgressReport) -> Directive:
            raise ReportRefused(Refusal(409, "attempt-finished", "done", Directive.STOP))

    with ProgressServer(Refusing(), SECRET) as server:
        client = ProgressClient(server.url, make_token(SECRET, FED, 3, 1, 77), delays=(5.0,))
        with pytest.raises(ProgressRejected) as caught:
            client.report(_report())
    assert (caught.value.status, caught.value.reason) == (409, "attempt-finished")
    assert caught.value.directive is Directive.STOP and not caught.value.unauthorised


def test_the_key_comes_from_the_superlink_sides_environment(tmp_path: Path) -> None:
    key_file = tmp_path / "key"
    key_file.write_bytes(b"  file-key-0123456789abcdef\n")
    assert progress_key({PROGRESS_KEY_FILE_ENV: str(key_file)}) == b"file-key-0123456789abcdef"
    assert (
        progress_key({PROGRESS_KEY_ENV: "env-key-0123456789abcdef"}) == b"env-key-0123456789abcdef"
    )
    both = {PROGRESS_KEY_FILE_ENV: str(key_file), PROGRESS_KEY_ENV: "env-key-0123456789abcdef"}
    assert progress_key(both) == b"file-key-0123456789abcdef"  # the file wins
    for env in ({}, {PROGRESS_KEY_ENV: "kx9q"}, {PROGRESS_KEY_FILE_ENV: str(tmp_path / "no")}):
        with pytest.raises(ProgressKeyMissing) as caught:
            progress_key(env)
        assert "kx9q" not in str(caught.value)  # never the key itself


def test_run_client_derives_the_token_the_daemon_accepts(tmp_path: Path) -> None:
    sink = Sink()
    with ProgressServer(sink, SECRET) as server:
        env = {PROGRESS_KEY_ENV: SECRET.decode()}
        client = run_client(
            server.url, federation=FED, generation=3, attempt=1, run_id=77, environ=env
        )
        assert client.report(_report()) == Directive.CONTINUE
        other_run = run_client(
            server.url, federation=FED, generation=3, attempt=1, run_id=78, environ=env
        )
        with pytest.raises(ProgressRejected, match="HTTP 401"):
            other_run.report(_report())  # a token for run 78 does not speak for run 77
    assert sink.reports == [_report()]


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


def test_a_report_lost_to_an_outage_is_sent_again_before_the_next_one() -> None:
    """The daemon refuses rounds out of order, so a report lost to a short outage must not
    leave a gap: the client keeps it and sends it first, in order, once the daemon answers."""
    received: list[dict[str, object]] = []

    class DownThenUp(Flaky):
        failures = 2  # both tries of the first report fail

        def do_POST(self) -> None:
            type(self).seen += 1
            body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
            ok = type(self).seen > type(self).failures
            if ok:
                received.append(body)
            reply = b'{"directive": "continue"}' if ok else b"{}"
            self.send_response(200 if ok else 503)
            self.send_header("Content-Length", str(len(reply)))
            self.end_headers()
            self.wfile.write(reply)

    handler = type("DownThenUpOnce", (DownThenUp,), {"seen": 0})
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        url = f"http://127.0.0.1:{httpd.server_address[1]}/progress"
        client = ProgressClient(url, "t", delays=(0.01,))
        assert client.report(_report(kind=ReportKind.ROUND_STARTED, round=2)) == Directive.CONTINUE
        assert client.pending == 1 and received == []
        assert (
            client.report(_report(kind=ReportKind.ROUND_COMPLETED, round=2)) == Directive.CONTINUE
        )
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert [(b["kind"], b["round"]) for b in received] == [
        ("round_started", 2),
        ("round_completed", 2),
    ]
    assert client.pending == 0
