"""The progress route, and a stand-alone endpoint serving only it, on loopback.

`progress_route` is the one Starlette route for progress reports: the daemon mounts it at
`/v1/progress` (`reconciler.daemon.http`), and `ProgressServer` serves it alone at
`/progress` for the flower test tier, the benchmark and anything that needs
`handle_progress` without the daemon. Both run on `reconciler.serving`, with its bounds.
"""

from __future__ import annotations

from collections.abc import Callable
from types import TracebackType

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from reconciler.faults import fault_point
from reconciler.runtime.progress import (
    MAX_BODY,
    ProgressReport,
    ProgressSink,
    Refusal,
    handle_progress,
)
from reconciler.serving import CLOSE, BackgroundServer, BodyTooLarge, build_app, read_body
from reconciler.settings import HttpLimits

OnRefused = Callable[[Refusal, ProgressReport | None], None]


def progress_route(
    path: str,
    *,
    secret: bytes,
    sink: ProgressSink,
    limits: HttpLimits,
    on_refused: OnRefused | None = None,
) -> Route:
    """POST `path`: `handle_progress(secret, sink)`. A report announced or sent larger than
    `MAX_BODY` is refused `too-large` (413) before it is read; refusals made before the sink
    (401, 400, 413) go to `on_refused` when given."""

    async def progress(request: Request) -> Response:
        try:
            body = await read_body(request, limit=MAX_BODY, timeout=limits.body_timeout)
        except BodyTooLarge:
            refusal = Refusal(413, "too-large", f"report larger than {MAX_BODY} bytes")
            if on_refused is not None:
                on_refused(refusal, None)
            status, reply = refusal.reply()
            return Response(reply, status, headers=dict(CLOSE), media_type="application/json")
        headers = dict(request.headers)
        status, reply = await run_in_threadpool(
            handle_progress, headers, body, secret=secret, sink=sink, on_refused=on_refused
        )
        fault_point("progress.before-reply")
        return Response(reply, status, media_type="application/json")

    return Route(path, progress, methods=["POST"])


class ProgressServer:
    """Serves `handle_progress(secret, sink)` at `self.url` until closed; refusals made before
    the sink (401, 400, 413) go to `on_refused` when given."""

    def __init__(
        self,
        sink: ProgressSink,
        secret: bytes,
        *,
        host: str = "127.0.0.1",
        on_refused: OnRefused | None = None,
        limits: HttpLimits | None = None,
    ) -> None:
        self.sink = sink
        self.secret = secret
        limits = limits or HttpLimits()
        route = progress_route(
            "/progress", secret=secret, sink=sink, limits=limits, on_refused=on_refused
        )
        app = build_app([route], limits=limits)
        self._server = BackgroundServer(
            app, host=host, port=0, limits=limits, name="progress-server"
        )
        self._server.start()

    @property
    def url(self) -> str:
        return f"{self._server.url}/progress"

    def close(self) -> None:
        self._server.stop()

    def __enter__(self) -> ProgressServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
