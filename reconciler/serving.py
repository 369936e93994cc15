"""HTTP serving: a Starlette app on uvicorn in a background thread, every slow path bounded.

Used by the daemon (`reconciler.daemon.http`, its routes) and by the stand-alone progress
endpoint of the tests and the benchmark (`reconciler.runtime.progress_server`). What
`HttpLimits` (settings) bounds, and how each bound shows:

- **headers**: a connection must send complete request headers within `header_timeout` of
  connecting or of its last answer, else it is closed (a client trickling its headers);
- **idle**: a connection that sends nothing for `idle_timeout` is closed (uvicorn's
  keep-alive timeout, here also armed when a connection is made);
- **bodies** (`read_body`): an announced Content-Length over the route's limit is 413 before
  a byte is read; a body that has not arrived `body_timeout` after the headers is 408; both
  close the connection, so an unread body is never taken for the next request;
- **concurrency**: at most `max_requests` requests at once; more are answered 503 with
  Retry-After before their bodies are read (uvicorn's `limit_concurrency` would count idle
  and half-sent connections too, so slow clients could turn real requests away);
- **stop**: idle connections and requests still sending their bodies are closed at once,
  requests being handled get up to `SHUTDOWN_SECONDS` for their answers.

Unknown paths are 404 and wrong methods 405, both JSON; every GET route answers HEAD; paths
are matched without their query string. A client that goes away is not an error and leaves
no traceback. uvicorn's own loggers stay at WARNING unless configured, and it writes no
access log.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import socket
import threading
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import h11
import uvicorn
from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.routing import BaseRoute
from starlette.types import ASGIApp, ExceptionHandler, Receive, Scope, Send
from uvicorn.protocols.http.h11_impl import H11Protocol

from reconciler.settings import HttpLimits

log = logging.getLogger(__name__)

CLOSE: Mapping[str, str] = {"Connection": "close"}
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.access")
SHUTDOWN_SECONDS = 5  # a stopping server waits this long for answers being made
START_SECONDS = 10.0


def json_response(
    status: int, body: Mapping[str, Any], headers: Mapping[str, str] | None = None
) -> Response:
    """`body` as one line of JSON."""
    data = json.dumps(body, default=str).encode() + b"\n"
    return Response(data, status, headers=dict(headers or {}), media_type="application/json")


class BodyRefused(Exception):
    """The request body was not taken; `response` is the answer."""

    def __init__(self, response: Response) -> None:
        super().__init__(response.status_code)
        self.response = response


class BodyTooLarge(BodyRefused):
    """The body is (or is announced to be) over the route's limit: 413, connection closed."""


async def read_body(request: Request, *, limit: int, timeout: float) -> bytes:
    """The request's body, at most `limit` bytes, within `timeout` seconds of its headers.

    Raises `BodyRefused` with the answer: 400 for a bad Content-Length, `BodyTooLarge` (413)
    when it is over the limit (announced: before a byte is read), 408 when it is late, and a
    400 nobody will read when the client went away."""
    too_large = BodyTooLarge(
        json_response(413, {"error": f"body larger than {limit} bytes"}, CLOSE)
    )
    announced = request.headers.get("content-length")
    if announced is not None:
        try:
            length = int(announced)
        except ValueError:
            length = -1
        if length < 0:
            raise BodyRefused(json_response(400, {"error": "bad Content-Length"}, CLOSE))
        if length > limit:
            raise too_large
    chunks: list[bytes] = []
    size = 0
    try:
        async with asyncio.timeout(timeout):
            async for chunk in request.stream():
                size += len(chunk)
                if size > limit:
                    raise too_large
                chunks.append(chunk)
    except TimeoutError:
        late = f"the request body did not arrive within {timeout:g} s"
        raise BodyRefused(json_response(408, {"error": late}, CLOSE)) from None
    except ClientDisconnect:
        raise BodyRefused(json_response(400, {"error": "the client went away"}, CLOSE)) from None
    return b"".join(chunks)


# --- the app ------------------------------------------------------------------------------


class _InFlight:
    """ASGI middleware: at most `limit` requests at once; past it 503 + Retry-After."""

    def __init__(self, app: ASGIApp, limit: int) -> None:
        self.app = app
        self.limit = limit
        self.active = 0  # only the event loop's thread touches it

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            busy = {"error": "too many requests at once"}
            await json_response(503, busy, {"Retry-After": "1", **CLOSE})(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    text = "not found" if exc.status_code == 404 else exc.detail.lower()
    return json_response(exc.status_code, {"error": text}, exc.headers)


async def _body_refused(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, BodyRefused)
    return exc.response


def build_app(
    routes: Sequence[BaseRoute],
    *,
    limits: HttpLimits,
    middleware: Sequence[Middleware] = (),
    exception_handlers: Mapping[type[Exception], ExceptionHandler] | None = None,
) -> Starlette:
    """A Starlette app of `routes` with the bounds and answers above; `middleware` runs
    outside the concurrency bound (first outermost), `exception_handlers` add answers."""
    handlers: dict[Any, ExceptionHandler] = {
        HTTPException: _http_error,
        BodyRefused: _body_refused,
        **(exception_handlers or {}),
    }
    stack = [*middleware, Middleware(_InFlight, limit=limits.max_requests)]
    return Starlette(routes=list(routes), middleware=stack, exception_handlers=handlers)


# --- the connection -----------------------------------------------------------------------


class _BoundedH11(H11Protocol):
    """uvicorn's h11 protocol with a deadline for complete request headers: armed when the
    connection is made and after each answer, cancelled when a request's headers are in."""

    header_timeout: ClassVar[float] = 10.0
    _deadline: asyncio.TimerHandle | None = None

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self._unset_keepalive_if_required()  # idle from the start, not only between requests
        self.timeout_keep_alive_task = self.loop.call_later(
            self.timeout_keep_alive, self.timeout_keep_alive_handler
        )
        self._await_headers()

    def handle_events(self) -> None:
        cycle = self.cycle
        super().handle_events()
        if self.cycle is not cycle:  # a new request's headers are complete
            self._headers_in()

    def on_response_complete(self) -> None:
        cycle = self.cycle
        super().on_response_complete()
        if self.cycle is cycle and not self.transport.is_closing():
            self._await_headers()  # no pipelined request started: wait for the next one

    def connection_lost(self, exc: Exception | None) -> None:
        self._headers_in()
        super().connection_lost(exc)

    def shutdown(self) -> None:
        """The server stops: a request still sending its body is cut off now (its reader
        sees the client gone); one whose body is in gets its answer."""
        if self.cycle is not None and not self.cycle.response_complete and self.cycle.more_body:
            self.transport.close()
        else:
            super().shutdown()

    def _await_headers(self) -> None:
        self._headers_in()
        self._deadline = self.loop.call_later(self.header_timeout, self._too_slow)

    def _headers_in(self) -> None:
        if self._deadline is not None:
            self._deadline.cancel()
            self._deadline = None

    def _too_slow(self) -> None:
        self._deadline = None
        if self.transport.is_closing():
            return
        log.debug(
            "closing a connection from %s: no complete request within %g s",
            self.client[0] if self.client else "?",
            self.header_timeout,
        )
        with contextlib.suppress(h11.LocalProtocolError):
            self.conn.send(h11.ConnectionClosed())
        self.transport.close()


def _protocol(limits: HttpLimits) -> type[H11Protocol]:
    class Protocol(_BoundedH11):
        header_timeout = limits.header_timeout

    return Protocol


def _listen(host: str, port: int) -> socket.socket:
    family, kind, proto, _, address = socket.getaddrinfo(
        host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
    )[0]
    sock = socket.socket(family, kind, proto)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(address)
        sock.listen(2048)
    except OSError:
        sock.close()
        raise
    return sock


def _quiet_uvicorn() -> None:
    for name in UVICORN_LOGGERS:
        logger = logging.getLogger(name)
        if logger.level == logging.NOTSET:
            logger.setLevel(logging.WARNING)


class BackgroundServer:
    """Serves `app` on uvicorn in a thread of its own from `start()` to `stop()`. The socket
    is bound at construction, so `url` is known at once (port 0 picks a free port)."""

    def __init__(self, app: ASGIApp, *, host: str, port: int, limits: HttpLimits, name: str):
        self._socket = _listen(host, port)
        bound, port = self._socket.getsockname()[:2]
        self.url = f"http://[{bound}]:{port}" if ":" in bound else f"http://{bound}:{port}"
        config = uvicorn.Config(
            app,
            http=_protocol(limits),
            ws="none",
            lifespan="off",
            log_config=None,
            access_log=False,
            proxy_headers=False,  # the client is the socket's peer, for the rate limits too
            server_header=False,
            timeout_keep_alive=limits.idle_timeout,
            timeout_graceful_shutdown=SHUTDOWN_SECONDS,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name=name, daemon=True)

    def start(self) -> None:
        _quiet_uvicorn()
        self._thread.start()
        deadline = time.monotonic() + START_SECONDS
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError(f"the HTTP server at {self.url} did not start")
            time.sleep(0.005)

    def stop(self) -> None:
        """Stop accepting, close idle connections, give requests in flight a moment."""
        self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(timeout=SHUTDOWN_SECONDS + 5)
        self._socket.close()

    def _serve(self) -> None:
        try:
            asyncio.run(self._server.serve(sockets=[self._socket]))
        except Exception:  # the thread's last word; the daemon goes on without HTTP
            log.exception("the HTTP server at %s stopped", self.url)


__all__ = [
    "BackgroundServer",
    "BodyRefused",
    "BodyTooLarge",
    "build_app",
    "json_response",
    "read_body",
]
