"""A whole federation on real Flower processes: every round reported, the model learns,
the final checkpoint is written, and a restarted driver adopts the run it started."""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

import numpy as np
import pytest
from flower_harness import KEY, Finished, digits_document, request, sha256

from reconciler.flowerapp import model
from reconciler.flowerapp.data import load_xy
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress import ReportKind

pytestmark = [pytest.mark.flower, pytest.mark.timeout(400)]


def test_run_finishes_completed(finished_federation: Finished) -> None:
    assert finished_federation.status == ("finished", "completed", "")


def test_every_round_is_reported_in_order(finished_federation: Finished) -> None:
    expected = []
    for rnd in (1, 2, 3):
        expected += [("round_started", rnd), ("round_completed", rnd), ("checkpoint", rnd)]
    assert finished_federation.sink.kinds() == [*expected, ("completed", 3)]
    joined = [r for r in finished_federation.sink.of() if r.kind == ReportKind.CLIENT_JOINED]
    assert len({r.message for r in joined}) == 3
    assert all(r.run_id == finished_federation.run_id for r in finished_federation.sink.of())


def test_round_metrics_arrive_during_the_run(finished_federation: Finished) -> None:
    arrivals = [
        x.at
        for x in finished_federation.sink.received
        if x.report.kind == ReportKind.ROUND_COMPLETED
    ]
    assert len(arrivals) == 3
    assert arrivals[1] - arrivals[0] > 1.0  # one report per round as it happens, not a batch
    completed = finished_federation.sink.last(ReportKind.ROUND_COMPLETED)
    assert {"accuracy", "loss", "train-loss", "clients"} <= set(completed.metrics)


def test_federated_accuracy_is_within_five_points_of_centralized(
    finished_federation: Finished, repo_root: Path
) -> None:
    shards = [load_xy(repo_root / f"data/digits/shard-{i}.npz", "npz") for i in range(3)]
    x = np.concatenate([s[0] for s in shards])
    y = np.concatenate([s[1] for s in shards])
    start = model.check_params(
        model.load_model(repo_root / "models/digits-logreg-init.npz", "npz"), 64
    )
    central, _ = model.train(
        start, x, y, epochs=9, batch_size=32, learning_rate=0.3, rng=np.random.default_rng(0)
    )
    _, central_accuracy = model.evaluate(
        central, *load_xy(repo_root / "data/digits/test.npz", "npz")
    )

    federated = finished_federation.sink.last(ReportKind.COMPLETED).metrics["accuracy"]

    print(f"federated accuracy {federated:.4f}, centralized {central_accuracy:.4f}")
    assert federated >= central_accuracy - 0.05
    assert federated > 0.85


def test_final_checkpoint_is_written_with_the_reported_digest(
    finished_federation: Finished,
) -> None:
    completed = finished_federation.sink.last(ReportKind.COMPLETED)
    assert completed.artifact is not None and completed.round == 3
    path = Path(urlparse(completed.artifact.uri).path)
    assert path.name == "round-0003.npz"
    assert sha256(path) == completed.artifact.sha256
    assert path.stat().st_size == completed.artifact.size
    arrays = model.load_model(path, "npz")
    assert arrays["weights"].shape == (64, 10)


def test_observe_reports_the_run_with_its_identity(
    finished_federation: Finished, runtime: FlowerRuntime
) -> None:
    mine = [o for o in runtime.observe() if o.run_id == finished_federation.run_id]
    assert len(mine) == 1
    assert (mine[0].key, mine[0].generation, mine[0].attempt) == (KEY, 1, 1)
    assert (mine[0].status, mine[0].sub_status) == ("finished", "completed")


def test_a_new_driver_adopts_the_run_instead_of_starting_another(
    finished_federation: Finished, local_flower: LocalFlower, repo_root: Path
) -> None:
    fresh = FlowerRuntime(local_flower.address)
    try:
        assert fresh.find_run(KEY, 1, 1) == finished_federation.run_id
        again = fresh.submit(request(repo_root, digits_document(repo_root), "http://127.0.0.1:9/p"))
        assert again == finished_federation.run_id
        assert sum(o.generation == 1 and o.attempt == 1 for o in fresh.observe()) == 1
        assert fresh.find_run(KEY, 1, 99) is None
    finally:
        fresh.close()


def test_logs_of_the_run_show_its_rounds(
    finished_federation: Finished, runtime: FlowerRuntime
) -> None:
    lines = runtime.logs(finished_federation.run_id)
    assert any("round 3 done" in line for line in lines)


def test_nodes_are_listed_online(runtime: FlowerRuntime) -> None:
    nodes = runtime.nodes()
    assert sum(n.online for n in nodes) == 3
