"""Fixtures for the telemetry tests: real telemetry servers, started and stopped per test.

`world` is the daemon tier's daemon on real PostgreSQL and Git with the in-memory runtime.
`rotel` is a running OTLP collector (PyPI `rotel`); `start_prometheus(targets)` starts a
Prometheus server scraping the given targets. Both skip locally and fail under CI=true when
the server cannot be found or started (tests/conftest.py `missing_service`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.daemon.conftest import world
from tests.source.gitutil import isolated_git
from tests.telemetry.servers import Prometheus, Rotel

__all__ = ["isolated_git", "world"]


@pytest.fixture
def rotel(tmp_path: Path) -> Iterator[Rotel]:
    server = Rotel.start(tmp_path / "rotel")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def start_prometheus(tmp_path: Path) -> Iterator[Callable[[list[str]], Prometheus]]:
    started: list[Prometheus] = []

    def start(targets: list[str]) -> Prometheus:
        server = Prometheus.start(tmp_path / f"prometheus-{len(started)}", targets)
        started.append(server)
        return server

    try:
        yield start
    finally:
        for server in started:
            server.stop()
