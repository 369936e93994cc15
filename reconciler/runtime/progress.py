"""The progress protocol between the ServerApp and the daemon.

The ServerApp (inside a Flower run) sends one `ProgressReport` per step to the daemon's
HTTP endpoint with `ProgressClient`; the daemon mounts `handle_progress`, records the
report through its `ProgressSink`, and answers with a `Directive` (continue, pause, stop)
that the ServerApp obeys at the next round boundary. Reports are idempotent on the
daemon side, so the client retries freely. Standard library only: this module is
imported inside Flower's app processes.

Authentication: the daemon's progress key is given to the SuperLink side only (the
SuperExec's environment, `THUNDERLINE_PROGRESS_KEY_FILE` or `THUNDERLINE_PROGRESS_KEY`;
`progress_key`), never to a run config, a FAB or a SuperNode. The ServerApp derives its
bearer token itself, `make_token(key, federation, generation, attempt, run_id)` with its own
Flower run id, and the daemon checks it (`verify_token`) before the sink checks the report
against what it recorded. A sink refuses a report by raising `ReportRefused`; the client
sees it as `ProgressRejected` carrying the status, the reason and the directive, if any.
"""

from __future__ import annotations

import collections
import enum
import hashlib
import hmac
import json
import logging
import math
import os
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any, Protocol

log = logging.getLogger(__name__)

MAX_BODY = 64 * 1024
TOKEN_HEADER = "authorization"
RETRY_DELAYS: tuple[float, ...] = (0.2, 0.5, 1.0, 2.0, 4.0)
# The SuperLink side's copy of the daemon's progress key: a file (preferred: a mounted
# Secret) or the key itself. Only the SuperLink and its SuperExec get either.
PROGRESS_KEY_FILE_ENV = "THUNDERLINE_PROGRESS_KEY_FILE"
PROGRESS_KEY_ENV = "THUNDERLINE_PROGRESS_KEY"
MIN_KEY_BYTES = 16
TOKEN_DOMAIN = "thunderline-progress-v2"


class ReportKind(enum.StrEnum):
    ROUND_STARTED = "round_started"
    ROUND_COMPLETED = "round_completed"
    CHECKPOINT = "checkpoint"
    CLIENT_JOINED = "client_joined"
    CLIENT_DROPPED = "client_dropped"
    NODE_LABELS = "node_labels"  # the labels of SuperNodes the run asked (clientSelector)
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
    for `paused`, `stopped` and `completed` it is the last round fully done. `dropped`
    (round_completed): node id -> why its reply did not count (a lease reason);
    `labels` (node_labels): node id -> the labels that node answered with.
    """

    federation: str  # "tenant/name"
    generation: int
    attempt: int
    run_id: int  # the Flower run id; the token is bound to it
    kind: ReportKind
    round: int = 0
    metrics: Mapping[str, float] = field(default_factory=dict)
    artifact: ArtifactInfo | None = None
    message: str = ""
    dropped: Mapping[str, str] = field(default_factory=dict)
    labels: Mapping[str, Mapping[str, str]] = field(default_factory=dict)

    def to_json(self) -> bytes:
        body = asdict(self)
        body["kind"] = str(self.kind)
        body["metrics"] = dict(self.metrics)
        body["dropped"] = dict(self.dropped)
        body["labels"] = {node: dict(labels) for node, labels in self.labels.items()}
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
            run_id=_typed(body, "run_id", int),
            kind=ReportKind(_typed(body, "kind", str)),
            round=_typed(body, "round", int, 0),
            metrics=_metrics(body.get("metrics") or {}),
            artifact=_artifact(body.get("artifact")),
            message=_typed(body, "message", str, ""),
            dropped=_strings(body.get("dropped") or {}, "dropped"),
            labels={
                node: _strings(labels, f"labels of {node}")
                for node, labels in _typed(body, "labels", dict, {}).items()
            },
        )


def _typed(body: Mapping[str, Any], key: str, kind: type, default: Any = None) -> Any:
    value = body.get(key, default)
    if not isinstance(value, kind) or (isinstance(value, bool) and kind is not bool):
        raise ValueError(f"{key} must be {kind.__name__}")
    return value


def _strings(value: object, what: str) -> dict[str, str]:
    if not isinstance(value, dict) or not all(
        isinstance(k, str) and isinstance(v, str) for k, v in value.items()
    ):
        raise ValueError(f"{what} must be an object of strings")
    return dict(value)


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


# --- the key and the tokens -------------------------------------------------------------


class ProgressKeyMissing(Exception):
    """The SuperLink side has no (usable) progress key: this run cannot report."""


def progress_key(environ: Mapping[str, str] | None = None) -> bytes:
    """The progress key as the SuperLink side holds it: the file named by
    `THUNDERLINE_PROGRESS_KEY_FILE`, else `THUNDERLINE_PROGRESS_KEY`. Surrounding
    whitespace is not part of the key. Raises `ProgressKeyMissing` (never with the key)."""
    env = os.environ if environ is None else environ
    path = env.get(PROGRESS_KEY_FILE_ENV, "")
    if path:
        try:
            with open(path, "rb") as handle:
                key = handle.read(64 * 1024).strip()
        except OSError as exc:
            raise ProgressKeyMissing(
                f"{PROGRESS_KEY_FILE_ENV} names {path}, which cannot be read: {exc.strerror}"
            ) from None
    else:
        key = env.get(PROGRESS_KEY_ENV, "").strip().encode()
    if not key:
        raise ProgressKeyMissing(
            f"neither {PROGRESS_KEY_FILE_ENV} nor {PROGRESS_KEY_ENV} is set where this "
            "ServerApp runs: give the SuperLink the daemon's progress key (docs/security.md)"
        )
    if len(key) < MIN_KEY_BYTES:
        raise ProgressKeyMissing(f"the progress key is shorter than {MIN_KEY_BYTES} bytes")
    return key


def make_token(key: bytes, federation: str, generation: int, attempt: int, run_id: int) -> str:
    """A run's bearer token: HMAC-SHA256 over the attempt's identity and its Flower run id."""
    message = json.dumps([TOKEN_DOMAIN, federation, generation, attempt, run_id])
    return hmac.new(key, message.encode(), hashlib.sha256).hexdigest()


def verify_token(
    key: bytes, token: str, federation: str, generation: int, attempt: int, run_id: int
) -> bool:
    """Constant-time check that `token` was made for exactly this attempt and run."""
    expected = make_token(key, federation, generation, attempt, run_id)
    return hmac.compare_digest(expected.encode(), token.encode("utf-8", "replace"))


# --- the journal of undelivered reports ------------------------------------------------

JOURNAL_DOMAIN = "thunderline-undelivered-v1"
MAX_JOURNAL = 4 * 1024 * 1024  # bytes: a full backlog of ordinary reports fits many times


def journal_name(run_id: int) -> str:
    """Where, under the attempt's checkpoint folder, a run leaves what it could not deliver."""
    return f"undelivered-run{run_id}.json"


def _journal_mac(token: str, run_id: int, reports: Sequence[Mapping[str, Any]]) -> str:
    body = json.dumps([JOURNAL_DOMAIN, run_id, list(reports)], sort_keys=True)
    return hmac.new(token.encode(), body.encode(), hashlib.sha256).hexdigest()


def seal_journal(token: str, run_id: int, reports: Sequence[ProgressReport]) -> bytes:
    """Reports a run could not deliver, sealed with an HMAC keyed by the run's token: the
    daemon, which can derive the token, trusts exactly what the run's ServerApp wrote, and
    the token itself is not in the file."""
    bodies = [json.loads(r.to_json()) for r in reports]
    sealed = {"run_id": run_id, "reports": bodies, "mac": _journal_mac(token, run_id, bodies)}
    return json.dumps(sealed, sort_keys=True).encode("utf-8")


def open_journal(raw: bytes, token: str, run_id: int) -> list[ProgressReport]:
    """The reports of a journal sealed for `run_id` with `token`; ValueError when it is too
    large, malformed, sealed for another run, or its seal does not match its contents."""
    if len(raw) > MAX_JOURNAL:
        raise ValueError(f"journal larger than {MAX_JOURNAL} bytes")
    body = json.loads(raw)
    if not isinstance(body, dict) or not isinstance(body.get("reports"), list):
        raise ValueError("journal must be an object with a list of reports")
    bodies, mac = body["reports"], body.get("mac")
    expected = _journal_mac(token, run_id, bodies)
    if body.get("run_id") != run_id or not isinstance(mac, str):
        raise ValueError("journal is not sealed for this run")
    if not hmac.compare_digest(expected.encode(), mac.encode("utf-8", "replace")):
        raise ValueError("journal seal does not match its contents")
    reports = [ProgressReport.from_json(json.dumps(b).encode()) for b in bodies]
    if any(r.run_id != run_id for r in reports):
        raise ValueError("journal holds a report of another run")
    return reports


# --- refusals -------------------------------------------------------------------------


@dataclass(frozen=True)
class Refusal:
    """Why a report was not recorded: the HTTP status, a reason code (a metric label), a
    sentence (never a token or key), and the directive for the run, if the daemon has one."""

    status: int
    reason: str
    detail: str
    directive: Directive | None = None

    def reply(self) -> tuple[int, bytes]:
        body = {"error": self.detail, "reason": self.reason}
        if self.directive is not None:
            body["directive"] = str(self.directive)
        return _reply(self.status, body)


class ReportRefused(Exception):
    """Raised by a sink for a report that contradicts what it recorded; nothing was written."""

    def __init__(self, refusal: Refusal) -> None:
        super().__init__(f"{refusal.status} {refusal.reason}: {refusal.detail}")
        self.refusal = refusal


# --- server side ----------------------------------------------------------------------


def _reply(status: int, body: Mapping[str, str]) -> tuple[int, bytes]:
    return status, json.dumps(body).encode("utf-8")


def _bearer(headers: Mapping[str, str]) -> str:
    for key, value in headers.items():
        if key.lower() == TOKEN_HEADER and value.startswith("Bearer "):
            return value[len("Bearer ") :].strip()
    return ""


def handle_progress(
    headers: Mapping[str, str],
    body: bytes,
    *,
    secret: bytes,
    sink: ProgressSink,
    on_refused: Callable[[Refusal, ProgressReport | None], None] | None = None,
) -> tuple[int, bytes]:
    """Serve one progress POST: (HTTP status, JSON body). The daemon mounts this.

    Refusals made here (413 too large, 401 no or wrong token, 400 malformed) go to
    `on_refused`; the sink reports its own before raising `ReportRefused`."""

    def refuse(refusal: Refusal, report: ProgressReport | None = None) -> tuple[int, bytes]:
        if on_refused is not None:
            on_refused(refusal, report)
        return refusal.reply()

    if len(body) > MAX_BODY:
        return refuse(Refusal(413, "too-large", f"report larger than {MAX_BODY} bytes"))
    token = _bearer(headers)
    if not token:
        return refuse(Refusal(401, "missing-token", "missing bearer token"))
    try:
        report = ProgressReport.from_json(body)
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        return refuse(Refusal(400, "malformed", f"bad report: {exc}"))
    if not verify_token(
        secret, token, report.federation, report.generation, report.attempt, report.run_id
    ):
        return refuse(Refusal(401, "bad-token", "token does not match this run"), report)
    try:
        directive = sink.report(report)
    except ReportRefused as exc:
        return exc.refusal.reply()
    return _reply(200, {"directive": str(directive)})


# --- client side (inside the ServerApp) -----------------------------------------------


class ProgressRejected(Exception):
    """The daemon refused a report (4xx): retrying it cannot help. `status` and `reason`
    say why (401: this run's token is not accepted at all); `directive` is what the daemon
    wants the run to do, when it said (a finished or superseded attempt is told to stop)."""

    def __init__(
        self, message: str, *, status: int, reason: str = "", directive: Directive | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.reason = reason
        self.directive = directive

    @property
    def unauthorised(self) -> bool:
        return self.status == 401


class ProgressUnauthorised(Exception):
    """The daemon does not accept this run's token: the SuperLink's key is not the daemon's."""


def send_report(
    sink: ProgressSink,
    report: ProgressReport,
    *,
    current: Directive,
    failing: bool,
    warn: Callable[..., object] = log.warning,
) -> tuple[Directive, bool]:
    """Send one report of a run: (the directive to follow now, whether it was refused).

    Shared by the built-in ServerApp and the SDK. A refused report is logged with `warn`
    and the run goes on, obeying the daemon's directive when the refusal carries one (else
    `current`); a refused token raises `ProgressUnauthorised`, since nothing the run reports
    can count, unless the run is `failing` already (its failure report must not raise)."""
    try:
        return sink.report(report), False
    except ProgressRejected as exc:
        warn("the daemon refused the %s report of round %d: %s", report.kind, report.round, exc)
        if exc.unauthorised and not failing:
            raise ProgressUnauthorised(
                f"the daemon refused this run's progress token ({exc}): the SuperLink's "
                "progress key does not match the daemon's (docs/security.md)"
            ) from None
        return exc.directive or current, True


class _Unreachable(Exception):
    def __init__(self, failure: Exception | None) -> None:
        super().__init__(str(failure))
        self.failure = failure


def _rejection(kind: ReportKind, exc: urllib.error.HTTPError) -> ProgressRejected:
    reason, directive = "", None
    try:
        body = json.loads(exc.read(MAX_BODY) or b"{}")
        if isinstance(body, dict):
            reason = str(body.get("reason", ""))[:64]
            if body.get("directive") in set(Directive):
                directive = Directive(body["directive"])
    except (OSError, ValueError):
        pass
    because = f" ({reason})" if reason else ""
    return ProgressRejected(
        f"daemon refused a {kind} report: HTTP {exc.code}{because}",
        status=exc.code,
        reason=reason,
        directive=directive,
    )


def _retry_after(exc: urllib.error.HTTPError) -> float:
    """Seconds from a Retry-After header (delay-seconds form); 0 when absent or a date."""
    try:
        return max(0.0, float(exc.headers.get("Retry-After", "")))
    except (AttributeError, TypeError, ValueError):
        return 0.0


class ProgressClient:
    """Posts reports to the daemon; implements `ProgressSink`.

    Transient failures (connection refused, 5xx, 429, timeouts) are retried with the
    `delays` backoff, a Retry-After honoured up to the longest delay; when all retries fail
    the run goes on (`continue`), because a daemon that is down for a moment must not kill
    a federation, and the report is kept: it is sent again, in order, before the next one
    (at most `backlog` reports are kept; the daemon records each one once, so sending again
    is safe). The daemon checks that rounds arrive in order, so a report lost to an outage
    would otherwise make every later one look out of order. 4xx is permanent: a refused
    earlier report is logged and dropped, a refused current one raises `ProgressRejected`.
    A run that ends with reports kept tries once more for a while (`flush`), then leaves them
    sealed for the daemon (`sealed_undelivered`, written by flowerapp/undelivered.py).
    """

    def __init__(
        self,
        url: str,
        token: str,
        *,
        delays: Sequence[float] = RETRY_DELAYS,
        timeout: float = 5.0,
        backlog: int = 1000,
    ) -> None:
        self.url = url
        self._token = token
        self._delays = tuple(delays)
        self._timeout = timeout
        self._max_backlog = backlog
        self._backlog: collections.deque[ProgressReport] = collections.deque()
        self._unreachable = False  # the last delivery failed: one try per report until one works

    @property
    def pending(self) -> int:
        """Reports not delivered yet (the daemon was unreachable)."""
        return len(self._backlog)

    @property
    def undelivered(self) -> tuple[ProgressReport, ...]:
        """The reports not delivered yet, oldest first."""
        return tuple(self._backlog)

    def sealed_undelivered(self, run_id: int) -> bytes:
        """The undelivered reports as a journal the daemon can trust (`seal_journal`)."""
        return seal_journal(self._token, run_id, self.undelivered)

    def report(self, r: ProgressReport) -> Directive:
        self._backlog.append(r)
        if len(self._backlog) > self._max_backlog:
            dropped = self._backlog.popleft()
            log.warning("progress backlog full: a %s report is dropped", dropped.kind)
        return self._deliver(r)

    def flush(self, budget: float, *, pause: float = 1.0) -> bool:
        """Try to deliver what is kept for about `budget` seconds (the run is ending, so
        there is no next report to carry them); True when nothing is left."""
        deadline = time.monotonic() + budget
        while self._backlog and time.monotonic() < deadline:
            self._deliver(None)
            if self._backlog:
                time.sleep(min(pause, max(0.0, deadline - time.monotonic())))
        return not self._backlog

    def _deliver(self, current: ProgressReport | None) -> Directive:
        """Send the backlog in order; a refusal of `current` raises, older ones are dropped."""
        directive = Directive.CONTINUE
        while self._backlog:
            head = self._backlog[0]
            try:
                directive = self._send(head)
                self._unreachable = False
            except _Unreachable as exc:
                self._unreachable = True
                log.warning(
                    "progress endpoint unreachable, the run goes on (%d reports kept): %s",
                    len(self._backlog),
                    exc.failure,
                )
                return Directive.CONTINUE
            except ProgressRejected as exc:
                self._backlog.popleft()
                if head is current:
                    raise
                log.warning("an earlier report was refused and is dropped: %s", exc)
                continue
            self._backlog.popleft()
        return directive

    def _send(self, r: ProgressReport) -> Directive:
        data = r.to_json()
        failure: Exception | None = None
        # While the daemon is known to be away, each report costs one try, not the whole
        # backoff: a run must not slow down by the retries of every report of an outage.
        delays = () if self._unreachable else self._delays
        for attempt in range(len(delays) + 1):
            asked = 0.0  # the daemon's Retry-After, if it said one
            try:
                return self._post(data)
            except urllib.error.HTTPError as exc:
                if exc.code < 500 and exc.code != 429:  # 429: the daemon asks us to slow down
                    raise _rejection(r.kind, exc) from None
                failure = exc
                asked = _retry_after(exc)
            except (OSError, ValueError) as exc:  # URLError, timeouts, a garbled answer
                failure = exc
            if attempt < len(delays):
                # Honour Retry-After (a 503 while the daemon's store is down, a 429), but
                # never past the longest delay: the retries stay bounded.
                time.sleep(max(delays[attempt], min(asked, max(delays))))
        raise _Unreachable(failure)

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


def run_client(
    url: str,
    *,
    federation: str,
    generation: int,
    attempt: int,
    run_id: int,
    environ: Mapping[str, str] | None = None,
) -> ProgressClient:
    """The ServerApp's client for its own run: the token is derived here, from the key in
    the SuperLink side's environment and the run's Flower id (`ProgressKeyMissing` if none)."""
    key = progress_key(environ)
    return ProgressClient(url, make_token(key, federation, generation, attempt, run_id))
