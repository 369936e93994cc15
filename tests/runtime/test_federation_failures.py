"""Failures the ServerApp must turn into a failed federation with a reason people can act on."""

from __future__ import annotations

from pathlib import Path

import pytest
from flower_harness import Endpoint, digits_document, request, wait_finished

from reconciler.runtime.base import RunRejected
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.progress import ReportKind

pytestmark = [pytest.mark.flower, pytest.mark.timeout(300)]


def test_shard_sha256_mismatch_fails_before_round_one(
    runtime: FlowerRuntime, endpoint: Endpoint, repo_root: Path
) -> None:
    document = digits_document(repo_root)
    document["spec"]["datasetSpec"]["shards"][1]["sha256"] = "0" * 64
    run_id = runtime.submit(request(repo_root, document, endpoint.url, generation=20))

    status = wait_finished(runtime, run_id, timeout=90)

    assert endpoint.sink.kinds() == [("failed", 0)]
    reason = endpoint.sink.last(ReportKind.FAILED).message
    assert "data/digits/shard-1.npz" in reason and "expected 000000000000" in reason
    assert status[:2] == ("finished", "failed") and "shard-1.npz" in status[2]


def test_too_few_supernodes_times_out_the_round(
    runtime: FlowerRuntime, endpoint: Endpoint, repo_root: Path
) -> None:
    document = digits_document(repo_root, rounds=2)
    document["spec"]["rounds"]["timeoutSeconds"] = 3
    document["spec"]["strategy"]["params"]["minAvailable"] = 4
    run_id = runtime.submit(request(repo_root, document, endpoint.url, generation=21))

    status = wait_finished(runtime, run_id, timeout=90)

    assert endpoint.sink.kinds() == [("round_started", 1), ("failed", 0)]
    reason = endpoint.sink.last(ReportKind.FAILED).message
    assert reason == "round 1 timed out after 3 s: only 3 of 4 required SuperNodes online after 3 s"
    assert status[:2] == ("finished", "failed")


def test_secure_aggregation_is_refused_before_reaching_flower(
    runtime: FlowerRuntime, endpoint: Endpoint, repo_root: Path
) -> None:
    document = digits_document(repo_root, privacy={"secureAggregation": {"enabled": True}})
    with pytest.raises(RunRejected, match="secureAggregation is not supported"):
        runtime.submit(request(repo_root, document, endpoint.url, generation=22))
