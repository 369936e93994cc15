"""Pause ends a run at a round boundary with a checkpoint; a resumed run continues from it:
round numbers continue, no round runs twice, and the result equals an uninterrupted run."""

from __future__ import annotations

from pathlib import Path

import pytest
from flower_harness import Endpoint, Finished, digits_document, request, wait_finished

from reconciler.runtime.base import Artifact
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.progress import Directive, ProgressReport, ReportKind

pytestmark = [pytest.mark.flower, pytest.mark.timeout(400)]


def _pause_after_round_one(r: ProgressReport) -> Directive:
    paused = r.attempt == 1 and r.kind == ReportKind.CHECKPOINT and r.round == 1
    return Directive.PAUSE if paused else Directive.CONTINUE


def test_pause_then_resume_continues_the_rounds_and_reproduces_the_result(
    runtime: FlowerRuntime, endpoint: Endpoint, repo_root: Path, finished_federation: Finished
) -> None:
    endpoint.sink.policy = _pause_after_round_one
    document = digits_document(repo_root)
    first = runtime.submit(request(repo_root, document, endpoint.url, generation=2, attempt=1))

    assert wait_finished(runtime, first, timeout=150) == ("finished", "completed", "")
    assert endpoint.sink.kinds(attempt=1) == [
        ("round_started", 1),
        ("round_completed", 1),
        ("checkpoint", 1),
        ("paused", 1),
    ]
    paused = endpoint.sink.last(ReportKind.PAUSED)
    assert paused.artifact is not None and paused.artifact.uri.endswith("round-0001.npz")

    resume = Artifact(paused.artifact.uri, paused.artifact.sha256)
    second = runtime.submit(
        request(
            repo_root,
            document,
            endpoint.url,
            generation=2,
            attempt=2,
            start_round=2,
            resume_from=resume,
        )
    )
    assert second != first
    assert wait_finished(runtime, second, timeout=150) == ("finished", "completed", "")
    assert endpoint.sink.kinds(attempt=2) == [
        ("round_started", 2),
        ("round_completed", 2),
        ("checkpoint", 2),
        ("round_started", 3),
        ("round_completed", 3),
        ("checkpoint", 3),
        ("completed", 3),
    ]

    resumed_final = endpoint.sink.last(ReportKind.COMPLETED).artifact
    straight_final = finished_federation.sink.last(ReportKind.COMPLETED).artifact
    assert resumed_final is not None and straight_final is not None
    assert resumed_final.uri != straight_final.uri
    assert resumed_final.sha256 == straight_final.sha256


def test_resuming_after_the_last_round_only_reports_completion(
    runtime: FlowerRuntime, endpoint: Endpoint, repo_root: Path, finished_federation: Finished
) -> None:
    final = finished_federation.sink.last(ReportKind.COMPLETED).artifact
    assert final is not None
    req = request(
        repo_root,
        digits_document(repo_root),
        endpoint.url,
        generation=3,
        start_round=4,
        resume_from=Artifact(final.uri, final.sha256),
    )

    run_id = runtime.submit(req)

    assert wait_finished(runtime, run_id, timeout=90) == ("finished", "completed", "")
    assert endpoint.sink.kinds() == [("completed", 3)]
    assert endpoint.sink.last(ReportKind.COMPLETED).artifact == final
