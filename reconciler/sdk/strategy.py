"""`ControlledStrategy`: any `flwr.serverapp.strategy` strategy, run under the control plane.

A team's ServerApp wraps its strategy in one line and starts it as before:

    strategy = ControlledStrategy(FedAvg(...), context)
    result = strategy.start(grid=grid, initial_arrays=arrays, num_rounds=num_rounds)

The wrapper keeps Flower's own round loop (`Strategy.start`) and the wrapped strategy's
training and aggregation; it adds, through a `Controller`: round_started / client_joined /
round_completed (with the round's train, evaluate and central metrics) / checkpoint reports,
a checkpoint of the global arrays after every round, a resumed run starting from its
checkpoint at round r + 1 (round numbers continue: the wrapped strategy sees the
federation's real round), and pause or stop at a round boundary. A run that fails reports
`failed` with its reason and re-raises, so Flower records it as failed too.

The spec's lease and clientSelector hold here as in the built-in app: every task carries
`ttlSeconds` as its Flower TTL, a reply that expired or that reports processing more than
`maxTokens` (the `processed` metric: the team's ClientApp counts its tokens) is left out
of aggregation and its node reported dropped for the round; the wrapped strategy samples
only nodes the selector allows (the ClientApp answers labels queries after
`answer_label_queries(app)`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping

from flwr.app import ArrayRecord, ConfigRecord, Context, Message, MetricRecord
from flwr.serverapp import Grid
from flwr.serverapp.strategy import Result, Strategy

from reconciler.flowerapp.exchange import Replies, judge
from reconciler.flowerapp.nodes import NodeBook, Selected
from reconciler.runtime.progress import Directive, ProgressSink
from reconciler.sdk.controller import Controller
from reconciler.selector import Labels

EvaluateFn = Callable[[int, ArrayRecord], MetricRecord | None]


class RunHalted(Exception):
    """Raised inside Flower's round loop to end the run at a round boundary."""


def scalars(record: MetricRecord | None) -> dict[str, float]:
    if record is None:
        return {}
    return {k: float(v) for k, v in record.items() if isinstance(v, int | float)}


class ControlledStrategy(Strategy):
    """Wraps `strategy`; `context` is the ServerApp's (its run config carries the control)."""

    def __init__(
        self, strategy: Strategy, context: Context, *, sink: ProgressSink | None = None
    ) -> None:
        self.strategy = strategy
        self.controller = Controller.from_context(context, sink=sink)
        self._offset = 0  # federation round = Flower loop round + offset
        self._total = 0
        self._metrics: dict[str, float] = {}
        self._round = 0  # the federation round under way
        self._book = NodeBook(self.controller.selector, self._labelled)
        self._tasks: list[Message] = []  # this phase's tasks (their ids, once pushed)
        self._dropped: dict[int, str] = {}  # this round's: node -> lease reason

    # --- the round loop -------------------------------------------------------------------

    def start(
        self,
        grid: Grid,
        initial_arrays: ArrayRecord,
        num_rounds: int = 3,
        timeout: float = 3600,
        train_config: ConfigRecord | None = None,
        evaluate_config: ConfigRecord | None = None,
        evaluate_fn: EvaluateFn | None = None,
    ) -> Result:
        """Run rounds `start_round .. num_rounds`; report the outcome, halt when told to."""
        control = self.controller
        self._offset, self._total = control.start_round - 1, num_rounds
        try:
            arrays = control.initial_arrays(initial_arrays)
            result = super().start(
                grid,
                arrays,
                max(0, num_rounds - self._offset),
                timeout,
                train_config,
                evaluate_config,
                self._checkpointing(evaluate_fn),
            )
        except RunHalted:
            control.halted()
            return Result()
        except Exception as exc:
            control.failed(f"{type(exc).__name__}: {exc}")
            raise
        control.completed()
        return result

    def _checkpointing(self, evaluate_fn: EvaluateFn | None) -> EvaluateFn:
        """Flower calls this after every round (and before the first): the round boundary."""

        def at_boundary(loop_round: int, arrays: ArrayRecord) -> MetricRecord | None:
            rnd = loop_round + self._offset
            if loop_round == 0:  # before any round: only a fresh run evaluates its start
                return evaluate_fn(rnd, arrays) if evaluate_fn and not self._offset else None
            central = evaluate_fn(rnd, arrays) if evaluate_fn else None
            metrics = {**self._metrics, **scalars(central)}
            self.controller.round_completed(rnd, arrays, metrics, self._dropped)
            if self.controller.halts_after(rnd, self._total):
                raise RunHalted(f"{self.controller.directive} after round {rnd}")
            return central

        return at_boundary

    # --- the wrapped strategy, at the federation's real round numbers ---------------------

    def configure_train(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        rnd = self._round = server_round + self._offset
        self._metrics, self._dropped = {}, {}
        selected = Selected(grid, self._book)
        if self.controller.round_started(rnd, selected.get_node_ids()) != Directive.CONTINUE:
            raise RunHalted(f"{self.controller.directive} before round {rnd}")
        return self._leased(self.strategy.configure_train(rnd, arrays, config, selected))

    def _leased(self, tasks: Iterable[Message]) -> list[Message]:
        """The tasks, each with the lease's ttl as its Flower TTL (kept to judge replies)."""
        self._tasks = list(tasks)
        lease = self.controller.lease
        if lease is not None:
            for task in self._tasks:
                task.metadata.ttl = lease.ttl_seconds
        return self._tasks

    def _counted(self, replies: Iterable[Message]) -> list[Message]:
        """The replies the lease lets count; the others' nodes are dropped for the round."""
        lease = self.controller.lease
        if lease is None:
            return list(replies)
        nodes = {task.metadata.message_id: task.metadata.dst_node_id for task in self._tasks}
        kept, dropped = judge(Replies(list(replies), [], nodes), lease)
        self._dropped.update(dropped)
        return kept

    def _labelled(self, labels: Mapping[int, Labels]) -> None:
        self.controller.nodes_labelled(self._round, labels)

    def aggregate_train(
        self, server_round: int, replies: Iterable[Message]
    ) -> tuple[ArrayRecord | None, MetricRecord | None]:
        replies = self._counted(replies)
        arrays, metrics = self.strategy.aggregate_train(server_round + self._offset, replies)
        self._metrics.update({**scalars(metrics), "clients": float(len(replies))})
        return arrays, metrics

    def configure_evaluate(
        self, server_round: int, arrays: ArrayRecord, config: ConfigRecord, grid: Grid
    ) -> Iterable[Message]:
        rnd, selected = server_round + self._offset, Selected(grid, self._book)
        return self._leased(self.strategy.configure_evaluate(rnd, arrays, config, selected))

    def aggregate_evaluate(
        self, server_round: int, replies: Iterable[Message]
    ) -> MetricRecord | None:
        replies = self._counted(replies)
        metrics = self.strategy.aggregate_evaluate(server_round + self._offset, replies)
        self._metrics.update(scalars(metrics))
        return metrics

    def summary(self) -> None:
        self.strategy.summary()
