"""The daemon's HTTP server under slow, idle, truncated, vanishing and too many clients.

Against the daemon's own `HttpServer` on loopback, over real sockets, with small timeouts
(`HttpLimits`) so that every test ends within a few seconds; the routes' collaborators
(readiness, the progress sink) are stand-ins, so no database or Git is needed. The last
test runs a whole daemon whose database goes away.
"""

from __future__ import annotations

import contextlib
import http.client
import json
import logging
import select
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from reconciler.daemon.http import Endpoints, HttpServer
from reconciler.runtime.progress import (
    Directive,
    ProgressClient,
    ProgressReport,
    Refusal,
    ReportKind,
    make_token,
)
from reconciler.settings import HttpLimits
from reconciler.store import StoreUnavailable
from reconciler.telemetry.metrics import Metrics
from tests.daemon.conftest import World, isolated_git, world
from tests.reliability.test_http_surface import Answer, exchange

__all__ = ["isolated_git", "world"]

SECRET = b"progress-test-secret"
FED = "acme/digits"
LIMITS = HttpLimits(header_timeout=1.0, body_timeout=1.0, idle_timeout=1, max_requests=64)
SLACK = 1.5  # seconds on top of a timeout for the server to act on it


@dataclass
class Sink:
    """A progress sink that fails with `StoreUnavailable` `failures` times, then records."""

    failures: int = 0
    reports: list[ProgressReport] = field(default_factory=list)

    def report(self, r: ProgressReport) -> Directive:
        if self.failures:
            self.failures -= 1
            raise StoreUnavailable("cannot reach PostgreSQL at 127.0.0.1:1/x: refused")
        self.reports.append(r)
        return Directive.CONTINUE


@dataclass
class Server:
    http: HttpServer
    sink: Sink
    refused: list[Refusal]

    @property
    def address(self) -> tuple[str, int]:
        host, port = self.http.url.removeprefix("http://").split(":")
        return host, int(port)

    def connect(self) -> socket.socket:
        return socket.create_connection(self.address, timeout=10)

    def request(
        self, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
    ) -> Answer:
        return exchange(self.address, method, path, body, headers)


def start(limits: HttpLimits = LIMITS) -> Server:
    sink, refused = Sink(), []
    endpoints = Endpoints(
        metrics=Metrics(),
        readiness=lambda: {"ready": True, "role": "leader"},
        request_cycle=lambda why: None,
        sink=sink,
        progress_secret=SECRET,
        webhook_secret=b"webhook-secret",
        progress_refused=lambda refusal, report: refused.append(refusal),
    )
    return Server(HttpServer("127.0.0.1", 0, endpoints, limits).start(), sink, refused)


@pytest.fixture
def server() -> Iterator[Server]:
    s = start()
    try:
        yield s
    finally:
        s.http.stop()


def closed_within(
    socks: list[socket.socket], seconds: float, nudge: Callable[[], None]
) -> list[float]:
    """Seconds until the server closed each socket (inf: still open after `seconds`);
    `nudge` runs once a second (sends the slow clients' next byte)."""
    began = time.monotonic()
    lifetimes = {s: float("inf") for s in socks}
    next_nudge = began + 1.0
    while time.monotonic() - began < seconds and any(t == float("inf") for t in lifetimes.values()):
        open_ = [s for s, t in lifetimes.items() if t == float("inf")]
        readable, _, _ = select.select(open_, [], [], 0.05)
        for s in readable:
            try:
                data = s.recv(4096)
            except OSError:
                data = b""
            if not data:
                lifetimes[s] = time.monotonic() - began
        if time.monotonic() >= next_nudge:
            nudge()
            next_nudge += 1.0
    return [lifetimes[s] for s in socks]


def report(kind: ReportKind = ReportKind.ROUND_STARTED, round: int = 1) -> ProgressReport:
    return ProgressReport(FED, 1, 1, 77, kind, round)


TOKEN = {"Authorization": f"Bearer {make_token(SECRET, FED, 1, 1, 77)}"}


def test_slowloris_connections_are_closed_and_others_still_served(server: Server) -> None:
    slow = [server.connect() for _ in range(40)]
    for s in slow:
        s.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")  # headers never finish

    def one_more_byte() -> None:
        for s in slow:
            with contextlib.suppress(OSError):  # closed by the server: the point of the test
                s.sendall(b"X")

    started = time.monotonic()
    status, _, body = server.request("GET", "/healthz")
    served_in = time.monotonic() - started
    lifetimes = closed_within(slow, LIMITS.header_timeout + SLACK + 1, one_more_byte)

    assert (status, body) == (200, b"ok\n") and served_in < 0.5
    assert max(lifetimes) <= LIMITS.header_timeout + SLACK, lifetimes
    assert server.request("GET", "/healthz")[0] == 200
    for s in slow:
        s.close()


def test_idle_connections_are_closed_after_the_idle_timeout(server: Server) -> None:
    silent = [server.connect() for _ in range(20)]  # connect, never say a word
    kept = server.connect()  # one request, then keep-alive silence
    kept.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n")
    answer = b""
    while not answer.endswith(b"ok\n"):
        answer += kept.recv(4096)

    lifetimes = closed_within([*silent, kept], LIMITS.idle_timeout + SLACK + 1, lambda: None)

    assert answer.startswith(b"HTTP/1.1 200")
    assert max(lifetimes) <= LIMITS.idle_timeout + SLACK, lifetimes
    assert min(lifetimes) >= LIMITS.idle_timeout * 0.8, lifetimes  # not cut short either
    for s in [*silent, kept]:
        s.close()


@pytest.mark.parametrize("path", ["/v1/progress", "/webhook"])
def test_a_truncated_body_is_answered_408_within_the_body_timeout(
    server: Server, path: str
) -> None:
    s = server.connect()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n".encode())
    s.sendall(b"0123456789")  # 10 of the 1000 bytes, then nothing
    started = time.monotonic()
    during = server.request("GET", "/healthz")[0]  # served while that body hangs

    answer = b""
    s.settimeout(LIMITS.body_timeout + SLACK)
    while chunk := s.recv(4096):
        answer += chunk
    took = time.monotonic() - started

    assert during == 200
    assert answer.startswith(b"HTTP/1.1 408"), answer
    assert b"connection: close" in answer.lower()
    assert took <= LIMITS.body_timeout + SLACK
    assert server.sink.reports == []
    s.close()


def raw_answer(s: socket.socket) -> bytes:
    s.settimeout(5)
    answer = b""
    while chunk := s.recv(4096):
        answer += chunk
    return answer


@pytest.mark.parametrize(
    ("path", "length", "reason"),
    [("/webhook", 2 << 20, None), ("/v1/progress", 100 * 1024, "too-large")],
)
def test_an_announced_body_over_the_limit_is_413_before_it_is_read(
    server: Server, path: str, length: int, reason: str | None
) -> None:
    s = server.connect()
    s.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
    answer = raw_answer(s)  # sent no byte of the body; the answer must not wait for it

    head, _, body = answer.partition(b"\r\n\r\n")
    assert head.startswith(b"HTTP/1.1 413") and b"connection: close" in head.lower()
    if reason is not None:
        assert json.loads(body)["reason"] == reason
        assert [r.reason for r in server.refused] == [reason]  # logged and counted
    s.close()


@pytest.mark.parametrize("path", ["/healthz", "/readyz", "/metrics"])
def test_head_answers_every_get_route_without_a_body(server: Server, path: str) -> None:
    conn = http.client.HTTPConnection(*server.address, timeout=10)
    conn.request("HEAD", path)
    head = conn.getresponse()
    empty = head.read()
    conn.request("GET", "/healthz")  # the same connection: no stray body in the way
    after = conn.getresponse()

    assert (head.status, empty) == (200, b"")
    assert int(head.headers["Content-Length"]) > 0  # what a GET would have sent
    assert (after.status, after.read()) == (200, b"ok\n")
    conn.close()


def test_the_query_string_does_not_change_the_route(server: Server) -> None:
    assert server.request("GET", "/readyz?x=1")[::2] == server.request("GET", "/readyz")[::2]
    assert server.request("GET", "/healthz?probe=1")[::2] == (200, b"ok\n")
    status, headers, body = server.request("GET", "/nowhere?x=1")
    assert (status, json.loads(body)) == (404, {"error": "not found"})
    assert headers["Content-Type"] == "application/json"
    status, headers, body = server.request("PUT", "/webhook", b"{}")
    assert status == 405 and "POST" in headers["Allow"] and "error" in json.loads(body)


def test_clients_that_go_away_leave_no_traceback(
    server: Server, caplog: pytest.LogCaptureFixture, capfd: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    mid_body = server.connect()
    mid_body.sendall(b"POST /v1/progress HTTP/1.1\r\nHost: x\r\nContent-Length: 500\r\n\r\n{")
    mid_headers = server.connect()
    mid_headers.sendall(b"GET /metrics HTTP/1.1\r\nHo")
    unread = server.connect()
    unread.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
    body = json.dumps({"federation": FED, "generation": 1, "attempt": 1, "run_id": 77})
    posted = server.connect()
    posted.sendall(
        b"POST /v1/progress HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer x\r\n"
        + f"Content-Length: {len(body)}\r\n\r\n{body}".encode()
    )
    time.sleep(0.2)
    for s in (mid_body, mid_headers, unread, posted):  # all hang up without reading
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, b"\x01\x00\x00\x00\x00\x00\x00\x00")
        s.close()  # SO_LINGER 0: a reset, the rudest way to go
    time.sleep(0.5)

    assert server.request("GET", "/healthz")[0] == 200
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    out, err = capfd.readouterr()
    assert "Traceback" not in out + err and "BrokenPipe" not in out + err


def test_a_store_outage_is_503_with_retry_after(server: Server) -> None:
    server.sink.failures = 1

    status, headers, body = server.request("POST", "/v1/progress", report().to_json(), TOKEN)

    assert status == 503 and int(headers["Retry-After"]) >= 1
    assert json.loads(body) == {"error": "store unavailable"}
    assert [r.reason for r in server.refused] == ["store-unavailable"]
    assert server.sink.reports == []
    assert server.request("POST", "/v1/progress", report().to_json(), TOKEN)[0] == 200


def test_the_serverapps_client_retries_a_503_and_honours_retry_after(server: Server) -> None:
    server.sink.failures = 2
    token = TOKEN["Authorization"].removeprefix("Bearer ")
    # The daemon asks for 2 s (Retry-After); the client waits no longer than its longest delay.
    client = ProgressClient(f"{server.http.url}/v1/progress", token, delays=(0.01, 0.3, 0.3))

    started = time.monotonic()
    directive = client.report(report())
    took = time.monotonic() - started

    assert directive is Directive.CONTINUE and server.sink.reports == [report()]
    assert 0.6 <= took < 2.0  # two waits of 0.3 s, not 0.01 s, and not the 2 s asked
    assert client.pending == 0


def test_requests_past_the_concurrency_cap_are_503_until_a_slot_frees() -> None:
    server = start(HttpLimits(header_timeout=5, body_timeout=1.0, idle_timeout=5, max_requests=2))
    try:
        hanging = [server.connect() for _ in range(2)]
        for s in hanging:  # two requests in flight, waiting for bodies that do not come
            s.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.2)

        status, headers, body = server.request("GET", "/healthz")
        answers = [raw_answer(s) for s in hanging]  # 408 after the body timeout
        after = server.request("GET", "/healthz")[0]
    finally:
        server.http.stop()

    assert status == 503 and int(headers["Retry-After"]) >= 1 and "error" in json.loads(body)
    assert all(a.startswith(b"HTTP/1.1 408") for a in answers), answers
    assert after == 200


def test_stop_is_prompt_with_slow_clients_connected(caplog: pytest.LogCaptureFixture) -> None:
    """A request still sending its body is cut off at stop, not waited for."""
    server = start(HttpLimits(header_timeout=30, body_timeout=30, idle_timeout=30))
    slow = server.connect()
    slow.sendall(b"GET /healthz HTTP/1.1\r\n")
    idle = server.connect()
    mid_body = server.connect()
    mid_body.sendall(b"POST /webhook HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
    time.sleep(0.1)

    started = time.monotonic()
    server.http.stop()
    took = time.monotonic() - started

    assert took < 2.0
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]
    with pytest.raises(OSError):
        server.request("GET", "/healthz")
    for s in (slow, idle, mid_body):
        s.close()


def test_many_clients_at_once_are_all_served(server: Server) -> None:
    """Not one thread per connection any more; still, 40 at once all get their answer."""
    results: list[Any] = []

    def ask() -> None:
        results.append(server.request("GET", "/readyz")[0])

    threads = [threading.Thread(target=ask) for _ in range(40)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=10)

    assert results == [200] * 40


@pytest.mark.pg
@pytest.mark.git
def test_a_daemon_whose_database_is_gone_answers_progress_with_503(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    name = "acme/digits-fedavg"
    token = make_token(b"progress-test-secret", name, 1, 1, run_id)
    body = ProgressReport(name, 1, 1, run_id, ReportKind.ROUND_STARTED, 1).to_json()
    host, port = world.daemon.http.url.removeprefix("http://").split(":")
    world.store.close()  # its pool is gone: every store call is StoreUnavailable from now on

    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.request("POST", "/v1/progress", body, {"Authorization": f"Bearer {token}"})
    response = conn.getresponse()
    reply = json.loads(response.read())
    conn.request("GET", "/metrics")
    metrics = conn.getresponse().read().decode()
    conn.close()

    assert response.status == 503 and int(response.headers["Retry-After"]) >= 1
    assert reply == {"error": "store unavailable"}
    assert 'thunderline_progress_refused_total{reason="store-unavailable"} 1.0' in metrics
