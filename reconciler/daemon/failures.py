"""Failing steps, made visible: one log line when a step starts failing, few while it persists.

The daemon hands every cycle's outcome to `FailureLog.after_cycle` (and the progress sink
reports artifact-store failures with `failed`). Each step (`fetch`, `observe` for the
SuperLink, `store` for PostgreSQL, `status-push`, `artifacts`) logs one WARNING line with
the reason when it starts failing, then at most one line per `repeat` seconds while it keeps
failing (saying how often it failed meanwhile), and one INFO line when it works again. Every
failure is counted in `thunderline_reconcile_errors_total{step}`. The last error of each step
is kept for `/readyz` and handed to `on_change` (the daemon saves it for `reconciler status`)
at the same moments a line is logged. Reasons are scrubbed of URL credentials and tokens
(the adapters already leave them out; this is the second lock).
"""

from __future__ import annotations

import logging
import re
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any, Protocol

from reconciler.daemon.cycle import CycleOutcome

log = logging.getLogger(__name__)

FETCH, OBSERVE, STORE, STATUS_PUSH, ARTIFACTS = (
    "fetch",
    "observe",
    "store",
    "status-push",
    "artifacts",
)
_WHAT = {
    FETCH: "fetching the spec repository",
    OBSERVE: "asking the Flower SuperLink",
    STORE: "the database",
    STATUS_PUSH: "pushing status reports",
    ARTIFACTS: "the artifact store",
}
REPEAT_SECONDS = 60.0

_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)[^/@\s]+@")
_SECRET_PAIR = re.compile(
    r"(?i)(?P<name>authorization|token|password|secret|api[-_]?key)(?P<sep>\s*[:=]\s*)"
    r"(?:(?:bearer|basic)\s+)?[^\s,;&'\"]+"
)


def scrub(text: str) -> str:
    """`text` without URL credentials (`https://user:pw@host` -> `https://***@host`) and
    without the values of `token=`, `password: ` and `Authorization:` style pairs."""
    text = _USERINFO.sub(r"\g<scheme>***@", text)
    return _SECRET_PAIR.sub(r"\g<name>\g<sep>***", text)


class _Counter(Protocol):
    def labels(self, *values: str) -> Any: ...


@dataclass(frozen=True)
class StepError:
    """The last failure of one step; `failing` is False once the step worked again."""

    step: str
    message: str
    since: datetime  # when this run of failures began
    last_seen: datetime
    count: int  # failures in this run of failures
    failing: bool = True

    def as_json(self) -> dict[str, Any]:
        return {
            "message": self.message,
            "since": self.since.isoformat(),
            "lastSeen": self.last_seen.isoformat(),
            "count": self.count,
            "failing": self.failing,
        }


class FailureLog:
    """Thread-safe: the worker and the progress sink both report here."""

    def __init__(
        self,
        errors_total: _Counter,
        *,
        repeat: float = REPEAT_SECONDS,
        on_change: Callable[[StepError], None] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._counter = errors_total
        self._repeat = repeat
        self._on_change = on_change
        self._clock = clock
        self._errors: dict[str, StepError] = {}
        self._logged_at: dict[str, tuple[float, int]] = {}  # step -> (clock, count) last logged
        self._lock = threading.Lock()

    def failed(self, step: str, message: str) -> None:
        message, now = scrub(message), datetime.now(UTC)
        self._counter.labels(step).inc()
        with self._lock:
            before = self._errors.get(step)
            if before is None or not before.failing:
                error = StepError(step, message, now, now, 1)
            else:
                error = replace(before, message=message, last_seen=now, count=before.count + 1)
            self._errors[step] = error
            first = before is None or not before.failing
            logged = self._logged_at.get(step)
            if not first and logged is not None and self._clock() - logged[0] < self._repeat:
                return  # counted above; logged again once `repeat` seconds have passed
            since_logged = error.count - (0 if first or logged is None else logged[1])
            self._logged_at[step] = (self._clock(), error.count)
        if error.count == 1:
            log.warning("%s failed (%s): %s", _WHAT.get(step, step), step, message)
        else:
            log.warning(
                "%s still failing (%s, %d times in a row, %d since the last line): %s",
                _WHAT.get(step, step),
                step,
                error.count,
                since_logged,
                message,
            )
        self._changed(error)

    def succeeded(self, step: str) -> None:
        with self._lock:
            before = self._errors.get(step)
            if before is None or not before.failing:
                return
            error = replace(before, failing=False, last_seen=datetime.now(UTC))
            self._errors[step] = error
            self._logged_at.pop(step, None)
        log.info(
            "%s works again (%s) after %d failures since %s",
            _WHAT.get(step, step),
            step,
            before.count,
            before.since.isoformat(timespec="seconds"),
        )
        self._changed(error)

    def after_cycle(self, outcome: CycleOutcome) -> None:
        """Report each step the cycle tried: failed with its reason, or succeeded."""
        store_read = outcome.plan is not None  # the recorded state was read this cycle
        self._step(FETCH, outcome.source_error, tried=outcome.fetch_duration is not None)
        self._step(OBSERVE, outcome.runtime_error, tried=store_read)
        store_error = outcome.store_error or outcome.store_write_error
        self._step(STORE, store_error, tried=store_read or bool(store_error))
        self._step(STATUS_PUSH, outcome.push_error, tried=outcome.pushed is not None)
        self._step(ARTIFACTS, outcome.artifact_error, tried=outcome.artifacts_read)

    def _step(self, step: str, error: str, *, tried: bool) -> None:
        if error:
            self.failed(step, error)
        elif tried:
            self.succeeded(step)

    def last_errors(self) -> Mapping[str, dict[str, Any]]:
        """For `/readyz`: the last error of every step that failed since the daemon started."""
        with self._lock:
            return {step: e.as_json() for step, e in sorted(self._errors.items())}

    def _changed(self, error: StepError) -> None:
        if self._on_change is None:
            return
        try:
            self._on_change(error)
        except Exception:  # saving it is a courtesy: never let it break the caller
            log.debug("could not save the error of step %s", error.step, exc_info=True)
