"""sdk-numpy: the ClientApp."""

from flwr.app import ArrayRecord, Context, Message, MetricRecord, RecordDict
from flwr.clientapp import ClientApp

from sdk_numpy.task import load_data, loss, train

app = ClientApp()


def _data(context: Context):
    partition_id = int(context.node_config["partition-id"])
    num_partitions = int(context.node_config["num-partitions"])
    return load_data(partition_id, num_partitions)


@app.train()
def train_fn(msg: Message, context: Context) -> Message:
    """Train the received model on the local partition."""
    x, y = _data(context)
    params = msg.content["arrays"].to_numpy_ndarrays()
    epochs = int(context.run_config["local-epochs"])
    lr = float(context.run_config["learning-rate"])
    params = train(params, x, y, epochs, lr)
    content = RecordDict(
        {
            "arrays": ArrayRecord(params),
            "metrics": MetricRecord({"train_loss": loss(params, x, y), "num-examples": len(y)}),
        }
    )
    return Message(content=content, reply_to=msg)


@app.evaluate()
def evaluate_fn(msg: Message, context: Context) -> Message:
    """Evaluate the received model on the local partition."""
    x, y = _data(context)
    params = msg.content["arrays"].to_numpy_ndarrays()
    metrics = MetricRecord({"eval_loss": loss(params, x, y), "num-examples": len(y)})
    return Message(content=RecordDict({"metrics": metrics}), reply_to=msg)
