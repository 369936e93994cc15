"""Run the daemon in the foreground until SIGTERM or Ctrl-C (`reconciler run`)."""

from __future__ import annotations

import logging
import signal
import sys
import threading
from types import FrameType

from reconciler.daemon.assemble import real_parts
from reconciler.daemon.service import Daemon
from reconciler.runtime.base import RuntimeFailure
from reconciler.settings import Settings
from reconciler.source import SourceError
from reconciler.store import StoreError

log = logging.getLogger("reconciler")


def configure_logging(level: str) -> None:
    logging.basicConfig(
        level=level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def serve(settings: Settings, *, log_level: str = "INFO", leader_election: bool = True) -> int:
    configure_logging(log_level)
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
