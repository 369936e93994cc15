"""Stop: the daemon's directive ends a run at the next boundary; the driver's stop ends it now."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from flower_harness import Endpoint, digits_document, request, wait_finished

from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.progress import Directive, ReportKind

pytestmark = [pytest.mark.flower, pytest.mark.timeout(300)]


def test_stop_directive_ends_the_run_before_the_next_round(
    runtime: FlowerRuntime, endpoint: Endpoint, repo_root: Path
) -> None:
    endpoint.sink.policy = lambda r: Directive.STOP
    run_id = runtime.submit(
        request(repo_root, digits_document(repo_root), endpoint.url, generation=10)
    )

    assert wait_finished(runtime, run_id, timeout=90) == ("finished", "completed", "")
    assert endpoint.sink.kinds() == [("round_started", 1), ("stopped", 0)]


def test_driver_stop_ends_a_running_run_at_once(
    runtime: FlowerRuntime, endpoint: Endpoint, repo_root: Path
) -> None:
    run_id = runtime.submit(
        request(repo_root, digits_document(repo_root), endpoint.url, generation=11)
    )
    deadline = time.monotonic() + 90
    while not any(r.kind == ReportKind.ROUND_STARTED for r in endpoint.sink.of()):
        assert time.monotonic() < deadline, "the run never started its first round"
        time.sleep(0.2)

    runtime.stop(run_id)

    assert wait_finished(runtime, run_id, timeout=15)[:2] == ("finished", "stopped")
    runtime.stop(run_id)  # stopping a finished run is not an error
    assert not any(r.kind == ReportKind.COMPLETED for r in endpoint.sink.of())
