"""Fixtures for the flower tier: one local Flower deployment and one finished federation
shared by the whole session, and a fresh progress endpoint per test."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flower_harness import (
    SECRET,
    Endpoint,
    Finished,
    RecordingSink,
    digits_document,
    make_repo,
    request,
    wait_finished,
)

from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress_server import ProgressServer


@pytest.fixture(scope="session")
def repo_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_repo(tmp_path_factory.mktemp("repo"))


@pytest.fixture(scope="session")
def local_flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFlower]:
    with LocalFlower(
        tmp_path_factory.mktemp("flower"), supernodes=3, progress_key=SECRET
    ) as flower:
        yield flower


@pytest.fixture
def runtime(local_flower: LocalFlower) -> Iterator[FlowerRuntime]:
    driver = local_flower.runtime()
    yield driver
    driver.close()


@pytest.fixture
def endpoint() -> Iterator[Endpoint]:
    sink = RecordingSink()
    with ProgressServer(sink, SECRET) as server:
        yield Endpoint(sink, server.url)


@pytest.fixture(scope="session")
def finished_federation(local_flower: LocalFlower, repo_root: Path) -> Iterator[Finished]:
    sink = RecordingSink()
    driver = local_flower.runtime()
    with ProgressServer(sink, SECRET) as server:
        req = request(repo_root, digits_document(repo_root), server.url)
        run_id = driver.submit(req)
        status = wait_finished(driver, run_id, timeout=240)
    driver.close()
    yield Finished(run_id, status, sink)
