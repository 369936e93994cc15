"""Experiment tracking, against a real `mlflow server` (sqlite backend) on loopback: each
generation a run (params, tags, one metric step per round, the checkpoint), replaced
generations linked, and a tracking-server outage that loses nothing."""

from __future__ import annotations

from collections.abc import Callable, Iterator

import pytest

from reconciler.model import Phase
from reconciler.notify import Notifier
from reconciler.notify.tracking import spec_params
from reconciler.runtime.local import free_port
from reconciler.store import Store
from tests.notify.conftest import eventually, sent_count
from tests.notify.mlflow_server import MlflowServer
from tests.store.conftest import make_spec, walk

pytestmark = pytest.mark.pg

SHA = "ab" * 32
ACCURACY = [0.5, 0.7, 0.9]


def _config(uri: str) -> str:
    return (
        "apiVersion: thunderline.okocorp/v1\nkind: NotificationConfig\n"
        f"services:\n  tracking: {{type: mlflow, trackingUri: '{uri}'}}\n"
    )


@pytest.fixture(scope="module")
def mlflow(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MlflowServer]:
    with MlflowServer.running(tmp_path_factory.mktemp("mlflow")) as server:
        yield server


def test_spec_params_are_flat_and_never_the_telemetry_headers() -> None:
    document = make_spec(
        "chat",
        strategy={"name": "fedprox", "params": {"proxMu": 0.01, "clientFraction": 1.0}},
        datasetSpec={"shards": [{"uri": "s3://a"}, {"uri": "s3://b"}], "schema": "npz"},
        telemetry={"otlp": {"enabled": True, "headers": {"authorization": "Bearer s3cret"}}},
        paused=False,
    ).document

    params = spec_params(document)

    assert params == {
        "rounds.total": "3",
        "strategy.name": "fedprox",
        "strategy.params.proxMu": "0.01",
        "strategy.params.clientFraction": "1.0",
        "datasetSpec.shards.count": "2",
        "datasetSpec.schema": "npz",
        "paused": "false",
    }


def _federation(store: Store, name: str, exported: Callable[[], None]) -> None:
    """Two generations: the first runs three rounds and completes, then (once `exported()`
    returns) the second is created."""
    key = store.create(make_spec(name)).key
    walk(store, key, Phase.STARTING, Phase.RUNNING)
    for number, accuracy in enumerate(ACCURACY, start=1):
        store.round_started(key, 1, number)
        store.round_completed(key, 1, number, {"accuracy": accuracy, "loss": 1 - accuracy})
        uri = f"file:///ckpt/{name}/round-{number}.npz"
        store.artifact_recorded(key, 1, number, uri=uri, sha256=SHA, size=10, format="npz")
    walk(store, key, Phase.COMPLETED)
    exported()
    again = make_spec(name, rounds={"total": 5})
    store.replace_spec(key, again, expected_version=store.get(key).version, to=Phase.PENDING)


def _delivered(notifier: Notifier, count: int) -> Callable[[], None]:
    metrics = notifier.metrics  # type: ignore[attr-defined]
    return lambda: eventually(lambda: sent_count(metrics, "tracking", "delivered") >= count, 60)


def _exported(mlflow: MlflowServer, name: str) -> dict[str, dict]:  # type: ignore[type-arg]
    runs = mlflow.runs("thunderline/acme")
    return {r["tags"]["thunderline.generation"]: r for r in runs if r["tags"].get(
        "thunderline.name") == name}  # fmt: skip


def test_each_generation_is_a_run_with_one_step_per_round_and_they_are_linked(
    store: Store, mlflow: MlflowServer, notifier_on: Callable[..., Notifier]
) -> None:
    notifier = notifier_on(_config(mlflow.url), revision_of=lambda key, gen: f"rev{gen}")
    _federation(store, "chat", _delivered(notifier, 9))  # created, started, 3x2, completed

    _delivered(notifier, 10)()
    runs = _exported(mlflow, "chat")
    first, second = runs["1"], runs["2"]
    assert first["info"]["status"] == "FINISHED"
    assert mlflow.metric_steps(first["info"]["run_id"], "accuracy") == list(
        enumerate(ACCURACY, start=1)
    )
    assert [step for step, _ in mlflow.metric_steps(first["info"]["run_id"], "loss")] == [1, 2, 3]
    assert first["tags"]["thunderline.tenant"] == "acme"
    assert first["tags"]["thunderline.revision"] == "rev1"
    assert first["tags"]["thunderline.checkpoint.uri"] == "file:///ckpt/chat/round-3.npz"
    assert first["tags"]["thunderline.checkpoint.sha256"] == SHA
    assert first["params"]["rounds.total"] == "3" and second["params"]["rounds.total"] == "5"
    assert first["tags"]["thunderline.spec_digest"] != second["tags"]["thunderline.spec_digest"]
    assert second["tags"]["thunderline.previous_run_id"] == first["info"]["run_id"]
    assert first["tags"]["thunderline.replaced_by_run_id"] == second["info"]["run_id"]
    assert second["info"]["status"] == "RUNNING"


def test_an_outage_of_the_tracking_server_loses_nothing(
    store: Store, mlflow: MlflowServer, notifier_on: Callable[..., Notifier]
) -> None:
    away = notifier_on(_config(f"http://127.0.0.1:{free_port()}"))  # nobody listens there
    _federation(store, "outage", lambda: None)
    eventually(lambda: sent_count(away.metrics, "tracking", "retried") >= 2, 30)  # type: ignore[attr-defined]
    away.stop()

    back = notifier_on(_config(mlflow.url))  # the same service: its cursor did not move

    _delivered(back, 10)()
    runs = _exported(mlflow, "outage")
    assert sorted(runs) == ["1", "2"]
    assert mlflow.metric_steps(runs["1"]["info"]["run_id"], "accuracy") == list(
        enumerate(ACCURACY, start=1)
    )
    assert sent_count(back.metrics, "tracking", "refused") == 0
