"""Run the daemon in the foreground until SIGTERM or Ctrl-C (`reconciler run`).

Logging goes to stderr, as text (`time level logger: message`) or, with `--log-format json`,
one JSON object per line (`time`, `level`, `logger`, `message`, and `exception` when there is
one) for log shippers. The request logs of the libraries the daemon drives (httpx,
APScheduler, urllib3, botocore, git, ...) are held at WARNING unless `--log-level DEBUG`:
at INFO the log says what the reconciler does, not every HTTP request it makes.
"""

from __future__ import annotations

import json
import logging
import signal
import sys
import threading
from datetime import UTC, datetime
from types import FrameType

from reconciler.daemon.assemble import real_parts
from reconciler.daemon.service import Daemon
from reconciler.runtime.base import RuntimeFailure
from reconciler.settings import Settings
from reconciler.source import SourceError
from reconciler.store import StoreError

log = logging.getLogger("reconciler")


LOG_FORMATS = ("text", "json")
# Libraries whose INFO lines are one per request or job run: WARNING unless DEBUG is asked.
QUIET_LIBRARIES = (
    "httpx",
    "httpcore",
    "apscheduler",
    "urllib3",
    "botocore",
    "boto3",
    "s3transfer",
    "git",
    "uvicorn.access",
    "watchdog",
    "flwr",
)


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time (RFC 3339, UTC), level, logger, message[, exception]."""

    def format(self, record: logging.LogRecord) -> str:
        entry = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, ensure_ascii=False)


def configure_logging(level: str, log_format: str = "text") -> None:
    if log_format not in LOG_FORMATS:
        raise ValueError(
            f"--log-format must be one of {', '.join(LOG_FORMATS)}, not {log_format!r}"
        )
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        JsonFormatter()
        if log_format == "json"
        else logging.Formatter("%(asctime)s %(levelname)-7s %(name)s: %(message)s")
    )
    logging.basicConfig(level=level.upper(), handlers=[handler], force=True)
    if logging.getLogger().getEffectiveLevel() > logging.DEBUG:
        for name in QUIET_LIBRARIES:
            logging.getLogger(name).setLevel(logging.WARNING)


def serve(
    settings: Settings,
    *,
    log_level: str = "INFO",
    leader_election: bool = True,
    log_format: str = "text",
) -> int:
    configure_logging(log_level, log_format)
    stop = threading.Event()

    def on_signal(signum: int, _frame: FrameType | None) -> None:
        log.info("signal %s: finishing the current cycle", signal.Signals(signum).name)
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    try:
        with real_parts(settings, leader_election=leader_election) as parts:
            daemon = Daemon(settings, parts).start()
            log.info("serving on %s (repo %s)", daemon.http.url, parts.source.display_url)
            stop.wait()
            daemon.stop()
    except (StoreError, RuntimeFailure, SourceError) as exc:
        log.error("%s", exc)
        return 2
    log.info("stopped")
    return 0
