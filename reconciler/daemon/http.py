"""The daemon's HTTP surface: probes, metrics, the push webhook and the progress endpoint.

    GET  /healthz       the process is alive
    GET  /readyz        database reachable, source fetched recently, role known (JSON)
    GET  /metrics       Prometheus exposition
    POST /webhook       GitHub / GitLab / Gitea / generic HMAC push event -> an immediate cycle
                        (once per delivery: a replay is answered 200 "duplicate", no cycle)
    POST /v1/progress   ServerApp progress reports (per-run bearer token)

Nothing here starts work on its own: a valid webhook only asks for a cycle sooner, and a
progress report only records what a run the daemon launched says. Bodies are size-limited
before they are read; a bad signature or token is a 401 and changes nothing. Each client
address has a request-rate budget per route (`daemon.ratelimit`); past it the answer is 429
with Retry-After, before the body is read.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.daemon.deliveries import DeliveryLog
from reconciler.daemon.ratelimit import RateLimiter
from reconciler.faults import fault_point
from reconciler.runtime.progress import ProgressReport, ProgressSink, Refusal, handle_progress
from reconciler.source import MAX_BODY_BYTES, WebhookRejected, verify_webhook
from reconciler.source.webhook import replay_keys
from reconciler.telemetry.metrics import Metrics

log = logging.getLogger(__name__)


@dataclass
class Endpoints:
    """What the routes call; the daemon fills it in."""

    metrics: Metrics
    readiness: Callable[[], Mapping[str, Any]]  # {"ready": bool, ...checks}
    request_cycle: Callable[[str], None]  # why
    sink: ProgressSink
    progress_secret: bytes
    webhook_secret: bytes | None  # None: the webhook is off (404)
    limiter: RateLimiter = field(default_factory=RateLimiter)
    # Logs and counts a progress report refused before it reached the sink (401, 400, 413).
    progress_refused: Callable[[Refusal, ProgressReport | None], None] | None = None
    deliveries: DeliveryLog = field(default_factory=DeliveryLog)  # webhook replays


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        ep = self.server.endpoints
        if not self._admitted():
            return
        if self.path == "/healthz":
            self._send(200, b"ok\n", "text/plain")
        elif self.path == "/readyz":
            checks = dict(ep.readiness())
            self._json(200 if checks.get("ready") else 503, checks)
        elif self.path == "/metrics":
            self._send(200, ep.metrics.exposition(), "text/plain; version=0.0.4")
        else:
            self._json(404, {"error": "not found"})

    def do_POST(self) -> None:
        routes = {"/webhook": self._webhook, "/v1/progress": self._progress}
        route = routes.get(self.path.split("?", 1)[0])
        if not self._admitted():
            return
        if route is None:
            self._json(404, {"error": "not found"})
            return
        body = self._body()
        if body is not None:
            route(body)

    def _webhook(self, body: bytes) -> None:
        ep = self.server.endpoints
        if ep.webhook_secret is None:
            self._json(404, {"error": "webhook not configured"})
            return
        try:
            event = verify_webhook(self._headers(), body, secret=ep.webhook_secret)
        except WebhookRejected as exc:
            ep.metrics.webhook_requests.labels(str(exc.status)).inc()
            self._json(exc.status, {"error": exc.reason})
            return
        if event is None:  # authentic, but asks for nothing (a ping)
            ep.metrics.webhook_requests.labels("200").inc()
            self._json(200, {"accepted": False})
            return
        if not ep.deliveries.first_time(replay_keys(event, body)):
            ep.metrics.webhook_requests.labels("200").inc()
            ep.metrics.webhook_duplicates.inc()
            seen = event.delivery or event.after_revision
            log.info("webhook: %s delivery %.80r seen before; no cycle", event.provider, seen)
            self._json(200, {"accepted": False, "duplicate": True})
            return
        if event.only_under("status/"):  # our own status commit coming back
            ep.metrics.webhook_requests.labels("200").inc()
            self._json(200, {"accepted": False})
            return
        ep.metrics.webhook_requests.labels("202").inc()
        ep.request_cycle(f"{event.provider} push")
        self._json(202, {"accepted": True})

    def _progress(self, body: bytes) -> None:
        ep = self.server.endpoints
        status, reply = handle_progress(
            self._headers(),
            body,
            secret=ep.progress_secret,
            sink=ep.sink,
            on_refused=ep.progress_refused,
        )
        fault_point("progress.before-reply")
        self._send(status, reply, "application/json")

    def _admitted(self) -> bool:
        """Take a token for this client and route; answer 429 (body unread) when none is left."""
        limiter = self.server.endpoints.limiter
        route = limiter.route_of(self.path)
        if limiter.allow(self.client_address[0], route):
            return True
        if route == "/webhook":
            self.server.endpoints.metrics.webhook_requests.labels("429").inc()
        self.close_connection = True  # an unread body must not be taken for a request
        retry = {"Retry-After": str(limiter.retry_after(route))}
        self._json(429, {"error": "too many requests"}, retry)
        return False

    def _body(self) -> bytes | None:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0:
            self._json(400, {"error": "bad Content-Length"})
            return None
        if length > MAX_BODY_BYTES:
            self.close_connection = True  # the unread body must not be taken for a request
            self._json(413, {"error": f"body larger than {MAX_BODY_BYTES} bytes"})
            return None
        return self.rfile.read(length)

    def _headers(self) -> dict[str, str]:
        return {k.lower(): v for k, v in self.headers.items()}

    def _json(
        self, status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
    ) -> None:
        data = json.dumps(body, default=str).encode() + b"\n"
        self._send(status, data, "application/json", headers or {})

    def _send(
        self, status: int, body: bytes, content_type: str, headers: Mapping[str, str] | None = None
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http %s", format % args)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], endpoints: Endpoints) -> None:
        super().__init__(address, _Handler)
        self.endpoints = endpoints


class HttpServer:
    """Serves `Endpoints` on a background thread until `close()`."""

    def __init__(self, host: str, port: int, endpoints: Endpoints) -> None:
        self._server = _Server((host, port), endpoints)
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="thunderline-http", daemon=True
        )

    @property
    def url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> HttpServer:
        self._thread.start()
        return self

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)


__all__ = ["Endpoints", "HTTPStatus", "HttpServer"]
