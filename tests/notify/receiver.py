"""A recording HTTP receiver on loopback: the far end of every notification test.

`Receiver` is a real threaded HTTP server. It records each POST (path, headers, body), and
answers from a script (`fail_next(n, status)`), else with `answer(request)`: subclasses play a
signed-webhook receiver (docs/notifications.md's recipe: signature, timestamp window,
delivery ids seen) or a forge's commit-status API (path and auth header checked).
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from reconciler.notify.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, verify


@dataclass(frozen=True)
class Received:
    path: str
    headers: dict[str, str]
    body: bytes
    status: int  # what the receiver answered

    def json(self) -> Any:
        return json.loads(self.body)


class Receiver:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self._failures: list[int] = []
        self._lock = threading.Condition()
        owner = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = self.rfile.read(length)
                headers = {k.lower(): v for k, v in self.headers.items()}
                status, text = owner._respond(self.path, headers, body)
                self.send_response(status)
                self.send_header("Content-Length", str(len(text)))
                self.end_headers()
                self.wfile.write(text)

            def log_message(self, *args: Any) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_port}"
        self._thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    def fail_next(self, count: int, status: int = 500) -> None:
        with self._lock:
            self._failures.extend([status] * count)

    def recover(self) -> None:
        """Answer normally again: forget the failures still scripted."""
        with self._lock:
            self._failures.clear()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int | tuple[int, bytes]:
        """The status (and body) for a request no failure is scripted for."""
        return 200

    def _respond(self, path: str, headers: dict[str, str], body: bytes) -> tuple[int, bytes]:
        with self._lock:
            status = self._failures.pop(0) if self._failures else None
        answer = self.answer(path, headers, body) if status is None else status
        status, text = answer if isinstance(answer, tuple) else (answer, b"")
        with self._lock:
            self.received.append(Received(path, headers, body, status))
            self._lock.notify_all()
        return status, text

    def accepted(self) -> list[Received]:
        with self._lock:
            return [r for r in self.received if 200 <= r.status < 300]

    def wait_for(self, done: Callable[[Receiver], bool], timeout: float = 20.0) -> None:
        """Until `done(self)`; fails the test after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        with self._lock:
            while not done(self):
                left = deadline - time.monotonic()
                assert left > 0, f"receiver: condition not met; got {self.received!r}"
                self._lock.wait(min(left, 0.2))

    @contextmanager
    def running(self) -> Iterator[Receiver]:
        self._thread.start()
        try:
            yield self
        finally:
            self.server.shutdown()
            self.server.server_close()


class SignedWebhookReceiver(Receiver):
    """The receiver recipe of docs/notifications.md: 401 for a bad or stale signature, 200
    (and nothing done) for a delivery id already handled, within the timestamp window."""

    def __init__(self, key: bytes) -> None:
        super().__init__()
        self.key = key
        self.handled: list[int] = []  # delivery ids acted on, in order

    def recover(self) -> None:
        """Answer normally again: forget the failures still scripted."""
        with self._lock:
            self._failures.clear()

    def answer(self, path: str, headers: dict[str, str], body: bytes) -> int:
        ok = verify(
            self.key,
            timestamp=headers.get(TIMESTAMP_HEADER.lower(), ""),
            signature_header=headers.get(SIGNATURE_HEADER.lower(), ""),
            body=body,
        )
        if not ok:
            return 401
        delivery = int(headers[DELIVERY_HEADER.lower()])
        if delivery not in self.handled:
            self.handled.append(delivery)
        return 200
