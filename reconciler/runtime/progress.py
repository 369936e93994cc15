"""The progress protocol between the ServerApp and the daemon.

The ServerApp (inside a Flower run) sends one `ProgressReport` per step to the daemon's
HTTP endpoint with `ProgressClient`; the daemon mounts `handle_progress`, records the
report through its `ProgressSink`, and answers with a `Directive` (continue, pause, stop)
that the ServerApp obeys at the next round boundary. Reports are idempotent on the
daemon side, so the client retries freely. Standard library only: this module is
imported inside Flower's app processes.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
import logging
import math
import time
import urllib.error
import urllib.request
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
TOKEN_HEADER = "authorization"
RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)


class ReportKind(enum.StrEnum):
    ROUND_STARTED = "round_started"
    ROUND_COMPLETED = "round_completed"
    CHECKPOINT = "checkpoint"
    CLIENT_JOINED = "client_joined"
    CLIENT_DROPPED = "client_dropped"
    PAUSED = "paused"
    STOPPED = "stopped"
    COMPLETED = "completed"
    FAILED = "failed"


class Directive(enum.StrEnum):
    """What the daemon wants the ServerApp to do at the next round boundary."""

    CONTINUE = "continue"
    PAUSE = "pause"
    STOP = "stop"


@dataclass(frozen=True)
class ArtifactInfo:
    uri: str
    sha256: str
    size: int
    format: str = "npz"


@dataclass(frozen=True)
class ProgressReport:
    """One step of one Flower run of one federation generation.

    `round` is the federation's real round number (it continues across resumed runs);
    for `paused`, `stopped` and `completed` it is the last round fully done.
    """

    federation: str  # "tenant/name"
    generation: int
    attempt: int
    kind: ReportKind
    round: int = 0
    run_id: int | None = None
    metrics: Mapping[str, float] = field(default_factory=dict)
    artifact: ArtifactInfo | None = None
    message: str = ""

    def to_json(self) -> bytes:
        body = asdict(self)
        body["kind"] = str(self.kind)
        body["metrics"] = dict(self.metrics)
        return json.dumps(body, sort_keys=True).encode("utf-8")

    @classmethod
    def from_json(cls, raw: bytes) -> ProgressReport:
        """Parse and validate a report; raises ValueError on anything malformed."""
        body = json.loads(raw)
        if not isinstance(body, dict):
            raise ValueError("report must be a JSON object")
        return cls(
            federation=_typed(body, "federation", str),
            generation=_typed(body, "generation", int),
            attempt=_typed(body, "attempt", int),
            kind=ReportKind(_typed(body, "kind", str)),
            round=_typed(body, "round", int, 0),
            run_id=_optional_int(body.get("run_id")),
            metrics=_metrics(body.get("metrics") or {}),
            artifact=_artifact(body.get("artifact")),
            message=_typed(body, "message", str, ""),
        )


def _typed(body: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = body.get(key, default)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{key} must be {kind.__name__}")
    return value


def _optional_int(value: object) -> int | None:
    if value is None:
        return None
    if not isinstance(value, int) or isinstance(value, bool):
        raise ValueError("run_id must be an integer or null")
    return value


def _metrics(value: object) -> dict[str, float]:
    if not isinstance(value, dict):
        raise ValueError("metrics must be an object")
    out: dict[str, float] = {}
    for key, number in value.items():
        if isinstance(number, bool) or not isinstance(number, int | float):
            raise ValueError(f"metric {key} must be a number")
        if not math.isfinite(number):
            raise ValueError(f"metric {key} must be finite")
        out[str(key)] = float(number)
    return out


def _artifact(value: object) -> ArtifactInfo | None:
    if value is None:
        return None
    if not isinstance(value, dict):
        raise ValueError("artifact must be an object or null")
    return ArtifactInfo(
        uri=_typed(value, "uri", str),
        sha256=_typed(value, "sha256", str),
        size=_typed(value, "size", int),
        format=_typed(value, "format", str, "npz"),
    )


class ProgressSink(Protocol):
    """Receives reports; the daemon's sink records them and decides the directive."""

    def report(self, r: ProgressReport) -> Directive: ...


# --- tokens ---------------------------------------------------------------------------


def make_token(secret: bytes, federation: str, generation: int, attempt: int) -> str:
    """A per-run bearer token: HMAC-SHA256 over the run's identity."""
    message = f"{federation}\n{generation}\n{attempt}".encode()
    return hmac.new(secret, message, hashlib.sha256).hexdigest()


def verify_token(secret: bytes, token: str, federation: str, generation: int, attempt: int) -> bool:
    """Constant-time check that `token` was made for exactly this run identity."""
    expected = make_token(secret, federation, generation, attempt)
    return hmac.compare_digest(expected.encode(), token.encode())


# --- server side ----------------------------------------------------------------------


def _reply(status: int, body: Mapping[str, str]) -> tuple[int, bytes]:
    return status, json.dumps(body).encode("utf-8")


def _bearer(headers: Mapping[str, str]) -> str:
    for key, value in headers.items():
        if key.lower() == TOKEN_HEADER and value.startswith("Bearer "):
            return value[len("Bearer ") :].strip()
    return ""


def handle_progress(
    headers: Mapping[str, str], body: bytes, *, secret: bytes, sink: ProgressSink
) -> tuple[int, bytes]:
    """Serve one progress POST: (HTTP status, JSON body). The daemon mounts this."""
    if len(body) > MAX_BODY:
        return _reply(413, {"error": f"report larger than {MAX_BODY} bytes"})
    token = _bearer(headers)
    if not token:
        return _reply(401, {"error": "missing bearer token"})
    try:
        report = ProgressReport.from_json(body)
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        return _reply(400, {"error": f"bad report: {exc}"})
    if not verify_token(secret, token, report.federation, report.generation, report.attempt):
        return _reply(401, {"error": "token does not match this run"})
    return _reply(200, {"directive": str(sink.report(report))})


# --- client side (inside the ServerApp) -----------------------------------------------


class ProgressRejected(Exception):
    """The daemon refused a report (bad token or malformed): retrying cannot help."""


class ProgressClient:
    """Posts reports to the daemon; implements `ProgressSink`.

    Transient failures (connection refused, 5xx, timeouts) are retried with the
    `delays` backoff; when all retries fail the run goes on (`continue`), because a
    daemon that is down for a moment must not kill a federation. 4xx is permanent.
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        delays: Sequence[float] = RETRY_DELAYS,
        timeout: float = 5.0,
    ) -> None:
        self.url = url
        self._token = token
        self._delays = tuple(delays)
        self._timeout = timeout

    def report(self, r: ProgressReport) -> Directive:
        data = r.to_json()
        failure: Exception | None = None
        for attempt in range(len(self._delays) + 1):
            try:
                return self._post(data)
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:  # 429: the daemon asks us to slow down
                    raise ProgressRejected(
                        f"daemon refused a {r.kind} report: HTTP {exc.code}"
                    ) from None
                failure = exc
            except (OSError, ValueError) as exc:  # URLError, timeouts, a garbled answer
                failure = exc
            if attempt < len(self._delays):
                time.sleep(self._delays[attempt])
        log.warning("progress endpoint unreachable, the run goes on: %s", failure)
        return Directive.CONTINUE

    def _post(self, data: bytes) -> Directive:
        request = urllib.request.Request(
            self.url,
            data=data,
            method="POST",
            headers={"Content-Type": "application/json", "Authorization": f"Bearer {self._token}"},
        )
        with urllib.request.urlopen(request, timeout=self._timeout) as response:
            body = json.loads(response.read(MAX_BODY))
        return Directive(body.get("directive", "continue"))
