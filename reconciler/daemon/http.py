"""The daemon's HTTP surface: probes, metrics, the push webhook and the progress endpoint.

    GET  /healthz       the process is alive
    GET  /readyz        database reachable, source fetched recently, role known (JSON)
    GET  /metrics       Prometheus exposition
    POST /webhook       GitHub / GitLab / Gitea / generic HMAC push event -> an immediate cycle
                        (once per delivery: a replay is answered 200 "duplicate", no cycle)
    POST /v1/progress   ServerApp progress reports (per-run bearer token)
    GET  /, /api/v1/... the read-only web console and its JSON API (`reconciler.console`),
                        when `Endpoints.console` is set
    POST /api/v1/reconcile  a cycle now (`reconciler reconcile`; bearer API token)

Nothing here starts work on its own: a valid webhook only asks for a cycle sooner, and a
progress report only records what a run the daemon launched says. Bodies are size-limited
before they are read; a bad signature or token is a 401 and changes nothing. Each client
address has a request-rate budget per route (`daemon.ratelimit`); past it the answer is 429
with Retry-After, before the body is read. While the store cannot be reached, a request that
needs it (a progress report) is answered 503 `{"error": "store unavailable"}` with
Retry-After; the ServerApp's client retries it.

A Starlette app on uvicorn in a thread of the daemon (`reconciler.serving`), so slow or
broken clients are bounded by `HttpLimits`: header, body and idle timeouts, and a cap on
requests at once. Every GET route answers HEAD; query strings are ignored in matching.
"""

from __future__ import annotations

import hmac
import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from reconciler.console import Console
from reconciler.console import routes as console_routes
from reconciler.daemon.deliveries import DeliveryLog
from reconciler.daemon.ratelimit import RateLimiter
from reconciler.runtime.progress import ProgressReport, ProgressSink, Refusal
from reconciler.runtime.progress_server import progress_route
from reconciler.serving import CLOSE, BackgroundServer, build_app, json_response, read_body
from reconciler.settings import HttpLimits
from reconciler.source import MAX_BODY_BYTES, WebhookRejected, verify_webhook
from reconciler.source.webhook import replay_keys
from reconciler.store import StoreError
from reconciler.telemetry.metrics import Metrics

log = logging.getLogger(__name__)

PROGRESS_PATH = "/v1/progress"
RECONCILE_PATH = "/api/v1/reconcile"
STORE_RETRY_AFTER = 2  # seconds a client is asked to wait while the store is unavailable


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
    console: Console | None = None  # None: no console (404 at /)
    api_token: bytes | None = None  # POST /api/v1/reconcile's bearer token; None: 404


class _RateLimited:
    """ASGI middleware: a token per (client, route) from `Endpoints.limiter`, else 429 with
    Retry-After and the body unread."""

    def __init__(self, app: ASGIApp, endpoints: Endpoints) -> None:
        self.app = app
        self.endpoints = endpoints

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        ep = self.endpoints
        limiter = ep.limiter  # looked up per request: tests swap it
        route = limiter.route_of(scope["path"])
        client = scope["client"][0] if scope.get("client") else ""
        if limiter.allow(client, route):
            await self.app(scope, receive, send)
            return
        if route == "/webhook":
            ep.metrics.webhook_requests.labels("429").inc()
        retry = {"Retry-After": str(limiter.retry_after(route)), **CLOSE}
        await json_response(429, {"error": "too many requests"}, retry)(scope, receive, send)


def _routes(ep: Endpoints, limits: HttpLimits) -> list[BaseRoute]:
    async def healthz(request: Request) -> Response:
        return Response(b"ok\n", 200, media_type="text/plain")

    async def readyz(request: Request) -> Response:
        checks = dict(await run_in_threadpool(ep.readiness))
        return json_response(200 if checks.get("ready") else 503, checks)

    async def metrics(request: Request) -> Response:
        exposition = await run_in_threadpool(ep.metrics.exposition)
        return Response(exposition, 200, media_type="text/plain; version=0.0.4")

    async def webhook(request: Request) -> Response:
        body = await read_body(request, limit=MAX_BODY_BYTES, timeout=limits.body_timeout)
        status, reply = await run_in_threadpool(_webhook, ep, dict(request.headers), body)
        return json_response(status, reply)

    async def reconcile(request: Request) -> Response:
        status, reply = _reconcile(ep, request.headers.get("authorization", ""))
        return json_response(status, reply)

    return [
        Route(RECONCILE_PATH, reconcile, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
        Route("/readyz", readyz, methods=["GET"]),
        Route("/metrics", metrics, methods=["GET"]),
        Route("/webhook", webhook, methods=["POST"]),
        progress_route(
            PROGRESS_PATH,
            secret=ep.progress_secret,
            sink=ep.sink,
            limits=limits,
            on_refused=ep.progress_refused,
        ),
        *(console_routes(ep.console) if ep.console is not None else ()),
    ]


def _webhook(ep: Endpoints, headers: Mapping[str, str], body: bytes) -> tuple[int, Any]:
    if ep.webhook_secret is None:
        return 404, {"error": "webhook not configured"}
    try:
        event = verify_webhook(headers, body, secret=ep.webhook_secret)
    except WebhookRejected as exc:
        ep.metrics.webhook_requests.labels(str(exc.status)).inc()
        return exc.status, {"error": exc.reason}
    if event is None:  # authentic, but asks for nothing (a ping)
        ep.metrics.webhook_requests.labels("200").inc()
        return 200, {"accepted": False}
    if not ep.deliveries.first_time(replay_keys(event, body)):
        ep.metrics.webhook_requests.labels("200").inc()
        ep.metrics.webhook_duplicates.inc()
        seen = event.delivery or event.after_revision
        log.info("webhook: %s delivery %.80r seen before; no cycle", event.provider, seen)
        return 200, {"accepted": False, "duplicate": True}
    if event.only_under("status/"):  # our own status commit coming back
        ep.metrics.webhook_requests.labels("200").inc()
        return 200, {"accepted": False}
    ep.metrics.webhook_requests.labels("202").inc()
    ep.request_cycle(f"{event.provider} push")
    return 202, {"accepted": True}


def _reconcile(ep: Endpoints, authorization: str) -> tuple[int, Any]:
    """A cycle now for a caller holding the API token; 401 (and nothing done) otherwise."""
    if ep.api_token is None:
        return 404, {"error": "reconcile endpoint not configured"}
    scheme, _, given = authorization.partition(" ")
    if scheme.lower() != "bearer" or not hmac.compare_digest(given.encode(), ep.api_token):
        return 401, {"error": "a valid API token is required"}
    ep.request_cycle("reconcile requested")
    return 202, {"requested": True}


def build(ep: Endpoints, limits: HttpLimits) -> ASGIApp:
    """The daemon's app: the routes above, rate-limited per client, 503 while the store is
    unavailable."""

    async def store_unavailable(request: Request, exc: Exception) -> Response:
        detail = f"the store is unavailable: {exc}"
        if request.url.path == PROGRESS_PATH and ep.progress_refused is not None:
            ep.progress_refused(Refusal(503, "store-unavailable", detail), None)  # INFO, counted
        else:
            log.warning("%s %s answered 503: %s", request.method, request.url.path, detail)
        retry = {"Retry-After": str(STORE_RETRY_AFTER)}
        return json_response(503, {"error": "store unavailable"}, retry)

    return build_app(
        _routes(ep, limits),
        limits=limits,
        middleware=[Middleware(_RateLimited, endpoints=ep)],
        exception_handlers={StoreError: store_unavailable},
    )


class HttpServer:
    """Serves `Endpoints` on a background thread from `start()` until `stop()`; bound at
    construction, so `url` is known at once (port 0 picks a free port)."""

    def __init__(
        self, host: str, port: int, endpoints: Endpoints, limits: HttpLimits | None = None
    ) -> None:
        self.endpoints = endpoints
        limits = limits or HttpLimits()
        self._server = BackgroundServer(
            build(endpoints, limits), host=host, port=port, limits=limits, name="thunderline-http"
        )

    @property
    def url(self) -> str:
        return self._server.url

    def start(self) -> HttpServer:
        self._server.start()
        return self

    def stop(self) -> None:
        self._server.stop()

    close = stop


__all__ = ["Endpoints", "HTTPStatus", "HttpServer"]
