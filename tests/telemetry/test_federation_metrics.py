"""The daemon's progress sink moves the fl_* metrics once per recorded step, and each cycle
observes the git fetch; on real PostgreSQL and Git with the in-memory Flower runtime."""

from __future__ import annotations

import shutil
import urllib.request
from pathlib import Path

import pytest

from reconciler.artifacts import open_store
from reconciler.model import Phase
from reconciler.runtime.progress import ArtifactInfo, ProgressReport, ReportKind
from reconciler.telemetry.metrics import Metrics
from tests.daemon.conftest import World

pytestmark = [pytest.mark.pg, pytest.mark.git]

FED = {"tenant": "acme", "federation": "digits-fedavg"}


def write(path: Path, content: bytes) -> Path:
    path.write_bytes(content)
    return path


def value(metrics: Metrics, name: str, labels: dict[str, str] | None = None) -> float:
    found = metrics.registry.get_sample_value(name, labels or {})
    return 0.0 if found is None else found


def test_one_round_moves_each_federation_metric_once(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    m = world.daemon.metrics
    assert world.record().phase is Phase.RUNNING
    assert value(m, "fl_rounds_started_total", FED) == 1
    assert value(m, "fl_rounds_completed_total", FED) == 1
    assert value(m, "fl_aggregates_total", FED) == 1
    assert value(m, "fl_artifacts_written_total", FED) == 1
    assert value(m, "fl_clients_joined_total", FED) == 3
    assert value(m, "fl_round_duration_seconds_count", {"tenant": "acme"}) == 1
    # The fake ServerApp sends no aggregation time: nothing is made up for it.
    assert value(m, "fl_aggregate_duration_seconds_count", {"tenant": "acme"}) == 0


def test_a_retried_report_counts_once(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    record = world.record()
    again = ProgressReport(
        federation=str(record.key),
        generation=record.generation,
        attempt=record.attempt,
        run_id=run_id,
        kind=ReportKind.ROUND_COMPLETED,
        round=1,
        metrics={"accuracy": 0.6},
    )
    world.daemon.sink.report(again)
    assert value(world.daemon.metrics, "fl_rounds_completed_total", FED) == 1


def test_aggregation_time_from_the_checkpoint_report_is_observed(world: World) -> None:
    world.cycle()
    record = world.record()
    (run_id,) = world.run_ids()
    # What the ServerApp does before its checkpoint report: round 1 in order, a real file
    # under the run's checkpoint folder (the sink reads it back).
    for kind in (ReportKind.ROUND_STARTED, ReportKind.ROUND_COMPLETED):
        world.daemon.sink.report(
            ProgressReport(str(record.key), record.generation, record.attempt, run_id, kind, 1)
        )
    base = world.runtime.runs[run_id].request.checkpoint_base
    ref = open_store(base).put(write(world.tmp / "ckpt.npz", b"x" * 2048), "round-0001.npz")
    world.daemon.sink.report(
        ProgressReport(
            federation=str(record.key),
            generation=record.generation,
            attempt=record.attempt,
            run_id=run_id,
            kind=ReportKind.CHECKPOINT,
            round=1,
            metrics={"aggregate_seconds": 0.04},
            artifact=ArtifactInfo(ref.uri, ref.sha256, ref.size),
        )
    )
    m = world.daemon.metrics
    assert value(m, "fl_aggregate_duration_seconds_count", {"tenant": "acme"}) == 1
    assert value(m, "fl_aggregate_duration_seconds_sum", {"tenant": "acme"}) == pytest.approx(0.04)
    assert value(m, "fl_artifacts_written_total", FED) == 1


def test_git_fetches_are_timed_and_failures_counted(world: World) -> None:
    world.cycle()
    m = world.daemon.metrics
    fetched = value(m, "thunderline_git_fetch_duration_seconds_count")
    assert fetched >= 1
    assert value(m, "thunderline_git_fetch_failures_total") == 0
    moved = world.remote.bare.with_name("moved.git")
    shutil.move(world.remote.bare, moved)
    world.cycle()
    assert value(m, "thunderline_git_fetch_failures_total") == 1
    assert value(m, "thunderline_git_fetch_duration_seconds_count") == fetched + 1


def test_metrics_endpoint_serves_the_federation_series(world: World) -> None:
    world.cycle()
    world.runtime.advance(world.run_ids()[0])
    with urllib.request.urlopen(f"{world.daemon.http.url}/metrics", timeout=10) as response:
        text = response.read().decode()
    assert 'fl_rounds_completed_total{federation="digits-fedavg",tenant="acme"} 1.0' in text
    assert "thunderline_reconcile_duration_seconds_count" in text


def test_federations_by_phase_follow_the_statuses(world: World) -> None:
    world.cycle()
    m = world.daemon.metrics
    assert value(m, "thunderline_federations", {"phase": "Starting"}) == 1
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)  # the run reports its first round: Running
    world.cycle()
    world.cycle()  # a quiet cycle counts nothing again, and changes nothing
    assert value(m, "thunderline_federations", {"phase": "Starting"}) == 0
    assert value(m, "thunderline_federations", {"phase": "Running"}) == 1
