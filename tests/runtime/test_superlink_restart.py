"""Recovery: a SuperLink killed mid-run fails that run ("No heartbeat"); observe() shows it,
and a resubmit from the last checkpoint finishes the federation with at most one round redone."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from flower_harness import (
    KEY,
    SECRET,
    Endpoint,
    Finished,
    digits_document,
    request,
    wait_finished,
)

from reconciler.runtime.base import Artifact, RuntimeUnavailable
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress import ReportKind

pytestmark = [pytest.mark.flower, pytest.mark.timeout(500)]


@pytest.fixture(scope="module")
def own_flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFlower]:
    """A deployment of its own: this test kills the SuperLink."""
    with LocalFlower(
        tmp_path_factory.mktemp("restart"), supernodes=3, progress_key=SECRET
    ) as flower:
        yield flower


def _wait_for(endpoint: Endpoint, kind: ReportKind, rnd: int, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while not any(r.kind == kind and r.round == rnd for r in endpoint.sink.of()):
        assert time.monotonic() < deadline, f"no {kind} for round {rnd} after {timeout:.0f} s"
        time.sleep(0.1)


def _observed_failed(driver: FlowerRuntime, run_id: int, timeout: float) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            seen = {o.run_id: o for o in driver.observe()}
        except RuntimeUnavailable:
            seen = {}
        run = seen.get(run_id)
        if run is not None and run.finished:
            assert (run.key, run.sub_status) == (KEY, "failed")
            return run.details
        time.sleep(1)
    raise AssertionError(f"run {run_id} not observed failed after {timeout:.0f} s")


def test_superlink_kill_fails_the_run_and_a_resubmit_completes_from_the_checkpoint(
    own_flower: LocalFlower, endpoint: Endpoint, repo_root: Path, finished_federation: Finished
) -> None:
    driver = own_flower.runtime()
    document = digits_document(repo_root)
    first = driver.submit(request(repo_root, document, endpoint.url, generation=30))
    _wait_for(endpoint, ReportKind.CHECKPOINT, 1, timeout=150)

    own_flower.restart_superlink(kill=True)

    details = _observed_failed(driver, first, timeout=150)
    assert "heartbeat" in details.lower()
    checkpoint = endpoint.sink.last(ReportKind.CHECKPOINT)
    assert checkpoint.artifact is not None
    own_flower.wait_for_nodes(3)
    second = driver.submit(
        request(
            repo_root,
            document,
            endpoint.url,
            generation=30,
            attempt=2,
            start_round=checkpoint.round + 1,
            resume_from=Artifact(checkpoint.artifact.uri, checkpoint.artifact.sha256),
        )
    )

    assert wait_finished(driver, second, timeout=200)[:2] == ("finished", "completed")
    done_first = {r.round for r in endpoint.sink.of(1) if r.kind == ReportKind.ROUND_COMPLETED}
    done_second = {r.round for r in endpoint.sink.of(2) if r.kind == ReportKind.ROUND_COMPLETED}
    assert done_first | done_second == {1, 2, 3}
    assert len(done_first & done_second) <= 1
    final = endpoint.sink.last(ReportKind.COMPLETED).artifact
    straight = finished_federation.sink.last(ReportKind.COMPLETED).artifact
    assert final is not None and straight is not None and final.sha256 == straight.sha256
    driver.close()
