"""A FederationSpec becomes a training plan with defaults, or a list of clear problems."""

from __future__ import annotations

import math
from typing import Any

import pytest

from reconciler.flowerapp.settings import (
    AppConfigError,
    Control,
    Pointer,
    control_identity,
    dp_noise_multiplier,
    parse_control,
    parse_plan,
    plan_problems,
    run_config,
)


def _doc(**spec: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "modelRef": {"uri": "models/m.npz", "sha256": "a" * 64, "format": "npz"},
        "strategy": {"name": "fedavg"},
        "rounds": {"total": 3},
        "datasetSpec": {"schema": "npz", "shards": [{"uri": "data/s0.npz"}]},
        "artifacts": {"outputBucket": "local"},
    }
    body.update(spec)
    return {
        "apiVersion": "thunderline.okocorp/v1",
        "kind": "FederationSpec",
        "metadata": {"name": "digits", "tenant": "acme"},
        "spec": body,
    }


def test_absent_fields_take_the_documented_defaults() -> None:
    plan = parse_plan(_doc())
    assert (plan.client_fraction, plan.min_available) == (1.0, 2)
    assert (plan.local_epochs, plan.batch_size, plan.learning_rate) == (1, 32, 0.1)
    assert (plan.prox_mu, plan.timeout_seconds, plan.seed) == (0.01, 300.0, 0)
    assert plan.dp is None and plan.evaluation is None
    assert plan.model == Pointer("models/m.npz", "a" * 64)


def test_strategy_params_are_read() -> None:
    params = {
        "clientFraction": 0.5,
        "minAvailable": 4,
        "localEpochs": 2,
        "localBatchSize": 8,
        "learningRate": 0.3,
        "proxMu": 0.1,
        "options": {"eta": 0.05},
    }
    plan = parse_plan(_doc(strategy={"name": "fedprox", "params": params}, seed=9))
    assert (plan.strategy, plan.client_fraction, plan.min_available) == ("fedprox", 0.5, 4)
    assert (plan.local_epochs, plan.batch_size, plan.learning_rate) == (2, 8, 0.3)
    assert (plan.prox_mu, plan.options, plan.seed) == (0.1, {"eta": 0.05}, 9)


@pytest.mark.parametrize(
    ("change", "problem"),
    [
        (
            {"privacy": {"secureAggregation": {"enabled": True}}},
            "secureAggregation is not supported",
        ),
        ({"privacy": {"dp": {"enabled": True}}}, "epsilon > 0 and 0 < delta < 1"),
        ({"strategy": {"name": "fedsgd"}}, "'fedsgd' is not one of"),
        ({"strategy": {"name": "custom"}}, "params.class is required"),
        ({"modelRef": {"uri": "m.onnx", "format": "onnx"}}, "modelRef.format must be one of"),
        ({"datasetSpec": {"schema": "npz", "shards": []}}, "needs at least one shard"),
        ({"datasetSpec": {"schema": "tfrecord", "shards": [{"uri": "x"}]}}, "schema must be"),
        ({"rounds": {"total": {"n": 3}}}, "wrong type or shape"),
        ({"rounds": {"total": 0}}, "rounds.total must be at least 1"),
    ],
)
def test_unsupported_requests_are_named(change: dict[str, Any], problem: str) -> None:
    doc = _doc(**change)
    assert any(problem in p for p in plan_problems(doc)), plan_problems(doc)
    with pytest.raises(AppConfigError, match="spec"):
        parse_plan(doc)


def test_dp_noise_follows_epsilon_delta_and_rounds() -> None:
    plan = parse_plan(_doc(privacy={"dp": {"enabled": True, "epsilon": 3.0, "delta": 1e-5}}))
    assert plan.dp is not None
    expected = math.sqrt(2 * math.log(1.25 / (1e-5 / 3))) / 1.0
    assert plan.dp.noise_multiplier == pytest.approx(expected)
    assert dp_noise_multiplier(6.0, 1e-5, 3) < dp_noise_multiplier(3.0, 1e-5, 3)


def test_run_config_is_two_json_strings_that_round_trip() -> None:
    control = Control(
        federation="acme/digits",
        generation=2,
        attempt=3,
        start_round=4,
        checkpoint_base="file:///tmp/ckpt",
        repo_root="/repo",
        progress_url="http://x/p",
        resume_from=Pointer("file:///tmp/ckpt/round-0003.npz", "b" * 64),
    )
    config = run_config(_doc(), control)
    assert set(config) == {"federation", "control"}
    assert all(isinstance(v, str) for v in config.values())
    assert parse_control(config["control"]) == control
    assert control_identity(config["control"]) == ("acme/digits", 2, 3)
    assert control_identity("{}") is None
