"""Spec strategies map onto Flower's, DP wraps them, and seeded DP noise repeats exactly."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any
from unittest import mock

import numpy as np
import pytest
from flwr.app import ConfigRecord, Message, MetricRecord, RecordDict
from flwr.serverapp import Grid
from flwr.serverapp.strategy import (
    DifferentialPrivacyServerSideFixedClipping,
    FedAdam,
    FedAvg,
    FedProx,
)
from flwr.supercore.task_identity import TaskIdentity

from reconciler.flowerapp.server import seed_everything, to_record
from reconciler.flowerapp.settings import AppConfigError, Plan, parse_plan
from reconciler.flowerapp.strategies import build_strategy


def _plan(strategy: dict[str, Any], **spec: Any) -> Plan:
    body = {
        "modelRef": {"uri": "m.npz"},
        "datasetSpec": {"shards": [{"uri": "s.npz"}]},
        "rounds": {"total": 3},
        "strategy": strategy,
        **spec,
    }
    return parse_plan({"spec": body})


def test_fedavg_gets_fraction_and_minimum_available() -> None:
    plan = _plan({"name": "fedavg", "params": {"clientFraction": 0.5, "minAvailable": 4}})
    strategy = build_strategy(plan, sampled_clients=2)
    assert type(strategy) is FedAvg
    assert (strategy.fraction_train, strategy.fraction_evaluate) == (0.5, 0.5)
    assert (strategy.min_available_nodes, strategy.min_train_nodes) == (4, 2)


def test_fedprox_carries_mu() -> None:
    strategy = build_strategy(
        _plan({"name": "fedprox", "params": {"proxMu": 0.2}}), sampled_clients=2
    )
    assert isinstance(strategy, FedProx) and strategy.proximal_mu == 0.2


@pytest.mark.parametrize("cls", ["FedAdam", "flwr.serverapp.strategy:FedAdam"])
def test_custom_strategy_by_name_or_import_path_with_options(cls: str) -> None:
    plan = _plan({"name": "custom", "params": {"class": cls, "options": {"eta": 0.05}}})
    allowed = ("flwr.serverapp.strategy:FedAdam",)  # an import path only when the policy lists it
    strategy = build_strategy(plan, sampled_clients=2, allowed=allowed)
    assert isinstance(strategy, FedAdam) and strategy.eta == 0.05


@pytest.mark.parametrize(
    ("params", "error"),
    [
        ({"class": "NoSuchStrategy"}, "is not a Flower strategy"),
        ({"class": "__builtins__"}, "is not a Flower strategy"),
        ({"class": "json:dumps"}, "is not a Flower strategy"),
        ({"class": "no.such.module:X"}, "cannot import"),
        ({"class": "FedAvg", "options": {"bogus": 1}}, "options rejected"),
    ],
)
def test_bad_custom_strategies_are_clear_errors(params: dict[str, Any], error: str) -> None:
    allowed = ("json:dumps", "no.such.module:X")  # listed, so they get as far as importing
    plan = _plan({"name": "custom", "params": params})
    with pytest.raises(AppConfigError, match=error):
        build_strategy(plan, sampled_clients=2, allowed=allowed)


@pytest.mark.parametrize("name", ["os:system", "subprocess:Popen", "ensurepip.__main__:X"])
def test_the_server_app_imports_no_path_the_policy_did_not_pass(
    name: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    imported: list[str] = []
    monkeypatch.setattr("importlib.import_module", lambda module: imported.append(module))
    plan = _plan({"name": "custom", "params": {"class": name}})
    with pytest.raises(AppConfigError, match="not allowed for this run by the tenant policy"):
        build_strategy(plan, sampled_clients=2, allowed=("acme_fl.robust:Trimmed",))
    assert imported == []


def test_dp_wraps_the_strategy_in_server_side_fixed_clipping() -> None:
    plan = _plan({"name": "fedavg"}, privacy={"dp": {"enabled": True, "epsilon": 3, "delta": 1e-5}})
    strategy = build_strategy(plan, sampled_clients=3)
    assert isinstance(strategy, DifferentialPrivacyServerSideFixedClipping)
    assert plan.dp is not None and strategy.noise_multiplier == plan.dp.noise_multiplier
    assert strategy.num_sampled_clients == 3


@pytest.fixture
def task_identity() -> Iterator[None]:
    """Messages can only be built inside a task; pretend to be one."""
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 1, 0, 1
    yield
    TaskIdentity.run_id = TaskIdentity.node_id = TaskIdentity.task_id = None  # type: ignore[assignment]


@pytest.mark.usefixtures("task_identity")
def test_seeded_dp_aggregation_is_reproducible() -> None:
    plan = _plan(
        {"name": "fedavg", "params": {"minAvailable": 3}},
        privacy={"dp": {"enabled": True, "epsilon": 3, "delta": 1e-5}},
    )
    grid = mock.Mock(spec=Grid)
    grid.get_node_ids.return_value = [11, 12, 13]
    start = {"weights": np.zeros((4, 2), np.float32), "bias": np.zeros(2, np.float32)}

    def aggregate() -> np.ndarray:  # type: ignore[type-arg]
        strategy = build_strategy(plan, sampled_clients=3)
        seed_everything(plan.seed, 1)
        sent = list(strategy.configure_train(1, to_record(start), ConfigRecord(), grid))
        replies = [_reply(msg, float(i + 1)) for i, msg in enumerate(sent)]
        seed_everything(plan.seed, 1)
        arrays, _ = strategy.aggregate_train(1, replies)
        assert arrays is not None
        return arrays["weights"].numpy()

    first, second = aggregate(), aggregate()
    assert np.array_equal(first, second)
    assert not np.allclose(first, np.full((4, 2), 2.0 / 3.0))  # noise was added


def _reply(msg: Message, value: float) -> Message:
    params = {"weights": np.full((4, 2), value, np.float32), "bias": np.full(2, value, np.float32)}
    content = RecordDict(
        {"arrays": to_record(params), "metrics": MetricRecord({"num-examples": 10})}
    )
    return Message(content=content, reply_to=msg)
