"""The ClientApp: trains and evaluates the global model on this SuperNode's shard.

Flower starts it for each message on a SuperNode (through the thin FAB). It finds its
shard from the node config (`partition-id`, or `tags`), verifies the shard's sha256
before touching the data, and trains with a seed derived from (spec seed, round, shard),
so the same spec and seed give the same update. FedProx's `proximal-mu` in the train
config switches on the proximal term. A train reply says how many samples it processed
(samples x epochs, the `processed` metric the lease's maxTokens bounds); a labels query
is answered with the node's labels (flowerapp/nodes.py, for clientSelector).
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from flwr.app import Array, ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from reconciler.artifacts import fetch_verified
from reconciler.flowerapp import model
from reconciler.flowerapp.data import load_xy, select_shard
from reconciler.flowerapp.lease import PROCESSED_METRIC
from reconciler.flowerapp.nodes import answer_label_queries
from reconciler.flowerapp.settings import (
    CONTROL_KEY,
    FEDERATION_KEY,
    parse_control,
    parse_plan,
)

app = ClientApp()
answer_label_queries(app)  # clientSelector: the ServerApp asks this node's labels


class LocalData:
    """This node's verified shard, its index in the spec, and the run's plan."""

    def __init__(self, context: Context) -> None:
        self.plan = parse_plan(json.loads(str(context.run_config[FEDERATION_KEY])))
        control = parse_control(str(context.run_config[CONTROL_KEY]))
        shard = select_shard(self.plan, context.node_config)
        self.index = self.plan.shards.index(shard)
        path = fetch_verified(shard.uri, sha256=shard.sha256, repo_root=Path(control.repo_root))
        self.x, self.y = load_xy(path, self.plan.schema)


def _params(msg: Message, features: int) -> model.Params:
    record = msg.content.array_records["arrays"]
    return model.check_params({k: record[k].numpy() for k in record}, features)


def _reply(msg: Message, metrics: dict[str, int | float], params: model.Params | None) -> Message:
    content = RecordDict({"metrics": MetricRecord(dict(metrics))})
    if params is not None:
        arrays = {k: Array.from_numpy_ndarray(v) for k, v in sorted(params.items())}
        content["arrays"] = ArrayRecord(arrays)
    return Message(content=content, reply_to=msg)


@app.train()
def train(msg: Message, context: Context) -> Message:
    data = LocalData(context)
    config = msg.content.config_records["config"]
    server_round = int(config["server-round"])  # type: ignore[arg-type]
    epochs = int(config.get("local-epochs", data.plan.local_epochs))  # type: ignore[arg-type]
    trained, loss = model.train(
        _params(msg, data.x.shape[1]),
        data.x,
        data.y,
        epochs=epochs,
        batch_size=int(config.get("batch-size", data.plan.batch_size)),  # type: ignore[arg-type]
        learning_rate=float(config.get("learning-rate", data.plan.learning_rate)),  # type: ignore[arg-type]
        prox_mu=float(config.get("proximal-mu", 0.0)),  # type: ignore[arg-type]
        rng=np.random.default_rng([data.plan.seed, server_round, data.index]),
    )
    # What the lease's maxTokens bounds for this app: the samples it went through.
    processed = float(len(data.y) * epochs)
    metrics = {"num-examples": float(len(data.y)), "train-loss": loss, PROCESSED_METRIC: processed}
    return _reply(msg, metrics, trained)


@app.evaluate()
def evaluate(msg: Message, context: Context) -> Message:
    data = LocalData(context)
    loss, accuracy = model.evaluate(_params(msg, data.x.shape[1]), data.x, data.y)
    return _reply(
        msg, {"num-examples": float(len(data.y)), "loss": loss, "accuracy": accuracy}, None
    )
