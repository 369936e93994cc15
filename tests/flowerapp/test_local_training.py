"""The numpy model learns the digits, deterministically, and FedProx pulls toward the start."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from reconciler.flowerapp import model
from reconciler.flowerapp.data import ShardError, load_xy, select_shard
from reconciler.flowerapp.settings import parse_plan

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"


def _digits(name: str) -> tuple[model.FloatArray, model.IntArray]:
    return load_xy(EXAMPLES / "data/digits" / name, "npz")


def _init() -> model.Params:
    arrays = model.load_model(EXAMPLES / "models/digits-logreg-init.npz", "npz")
    return model.check_params(arrays, 64)


def test_centralized_training_learns_the_digits() -> None:
    x = np.concatenate([_digits(f"shard-{i}.npz")[0] for i in range(3)])
    y = np.concatenate([_digits(f"shard-{i}.npz")[1] for i in range(3)])
    trained, _ = model.train(
        _init(), x, y, epochs=3, batch_size=32, learning_rate=0.3, rng=np.random.default_rng(0)
    )
    _, accuracy = model.evaluate(trained, *_digits("test.npz"))
    assert accuracy > 0.9


def test_training_is_deterministic_for_a_seed() -> None:
    x, y = _digits("shard-0.npz")
    runs = [
        model.train(
            _init(),
            x,
            y,
            epochs=1,
            batch_size=32,
            learning_rate=0.1,
            rng=np.random.default_rng([7, 1, 0]),
        )[0]
        for _ in range(2)
    ]
    assert model.npz_bytes(runs[0]) == model.npz_bytes(runs[1])


def test_proximal_term_keeps_weights_closer_to_the_start() -> None:
    x, y = _digits("shard-1.npz")
    start = _init()

    def distance(mu: float) -> float:
        trained, _ = model.train(
            start,
            x,
            y,
            epochs=2,
            batch_size=32,
            learning_rate=0.3,
            rng=np.random.default_rng(1),
            prox_mu=mu,
        )
        return float(np.linalg.norm(trained["weights"] - start["weights"]))

    assert distance(5.0) < 0.8 * distance(0.0)


def test_npz_bytes_do_not_depend_on_dict_order() -> None:
    a = {"weights": np.ones((2, 2), np.float32), "bias": np.zeros(2, np.float32)}
    b = {"bias": np.zeros(2, np.float32), "weights": np.ones((2, 2), np.float32)}
    assert model.npz_bytes(a) == model.npz_bytes(b)


def test_wrong_shapes_are_refused() -> None:
    with pytest.raises(model.ModelFormatError, match="do not fit 64 features"):
        model.check_params({"weights": np.zeros((10, 3)), "bias": np.zeros(3)}, 64)
    with pytest.raises(model.ModelFormatError, match="expected arrays"):
        model.check_params({"w": np.zeros((64, 3))}, 64)


def test_torch_format_without_torch_is_a_clear_error(tmp_path: Path) -> None:
    pytest.importorskip("numpy")
    try:
        import torch  # type: ignore[import-not-found]  # noqa: F401
    except ImportError:
        with pytest.raises(model.ModelFormatError, match="needs PyTorch"):
            model.load_model(tmp_path / "m.pt", "torch")
    else:
        pytest.skip("torch is installed here")


def _plan(shards: list[dict[str, object]]) -> object:
    return parse_plan(
        {"spec": {"modelRef": {"uri": "m.npz"}, "datasetSpec": {"schema": "npz", "shards": shards}}}
    )


def test_shard_is_chosen_by_partition_id_then_by_tags() -> None:
    plan = _plan([{"uri": "a", "tags": ["eu"]}, {"uri": "b"}, {"uri": "c", "tags": ["us", "gpu"]}])
    assert select_shard(plan, {"partition-id": 1}).uri == "b"  # type: ignore[arg-type]
    assert select_shard(plan, {"partition-id": 2}).uri == "c"  # type: ignore[arg-type]
    explicit = _plan([{"uri": "a"}, {"uri": "b", "partition": 0}])
    assert select_shard(explicit, {"partition-id": 0}).uri == "b"  # type: ignore[arg-type]
    assert select_shard(plan, {"tags": "gpu,us,x"}).uri == "c"  # type: ignore[arg-type]
    with pytest.raises(ShardError, match="no shard for partition-id 5"):
        select_shard(plan, {"partition-id": 5})  # type: ignore[arg-type]
    with pytest.raises(ShardError, match="tags"):
        select_shard(plan, {"tags": "asia"})  # type: ignore[arg-type]


def test_csv_shards_use_the_label_column(tmp_path: Path) -> None:
    (tmp_path / "s.csv").write_text("f0,f1,label\n0.5,1.0,3\n0.0,0.25,1\n")
    x, y = load_xy(tmp_path / "s.csv", "csv")
    assert x.dtype == np.float32 and x.tolist() == [[0.5, 1.0], [0.0, 0.25]]
    assert y.tolist() == [3, 1]
