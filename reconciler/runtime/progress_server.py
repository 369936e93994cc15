"""A minimal HTTP endpoint for progress reports, on loopback, in a background thread.

Used by the flower test tier, the benchmark and anything that needs `handle_progress`
served without the daemon's own HTTP server. Every POST goes to `handle_progress`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType

from reconciler.runtime.progress import (
    MAX_BODY,
    ProgressReport,
    ProgressSink,
    Refusal,
    handle_progress,
)


class ProgressServer:
    """Serves `handle_progress(secret, sink)` at `self.url` until closed; refusals made before
    the sink (401, 400, 413) go to `on_refused` when given."""

    def __init__(
        self,
        sink: ProgressSink,
        secret: bytes,
        *,
        host: str = "127.0.0.1",
        on_refused: Callable[[Refusal, ProgressReport | None], None] | None = None,
    ) -> None:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(min(length, MAX_BODY + 1))
                status, reply = handle_progress(
                    dict(self.headers.items()),
                    body,
                    secret=server.secret,
                    sink=server.sink,
                    on_refused=on_refused,
                )
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(reply)))
                self.end_headers()
                self.wfile.write(reply)

            def log_message(self, format: str, *args: object) -> None:
                """Quiet: reports are recorded by the sink, not the access log."""

        self.sink = sink
        self.secret = secret
        self._httpd = ThreadingHTTPServer((host, 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, daemon=True, name="progress-server"
        )
        self._thread.start()

    @property
    def url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/progress"

    def close(self) -> None:
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)

    def __enter__(self) -> ProgressServer:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()
