"""Node selection inside a run: ask the SuperNodes for their labels, show a strategy only
the nodes a clientSelector allows.

A ServerApp cannot see a SuperNode's node config; its ClientApp can. `NodeBook.learn` sends
one `query.thunderline_labels` task to each online node it has not asked yet, and the
ClientApp answers with its labels (`labels_reply`: only the keys in `selector.LABEL_KEYS`).
A node that does not answer in time is left out; one whose app has no such handler (an
error reply) counts as unlabelled, a shared node. `Selected` wraps the run's Grid: its `get_node_ids` (what
Flower's strategies sample from) asks nodes new to the run first and lists only allowed
ones, so a strategy never picks another and waits for enough matching nodes. Used by the
built-in ServerApp and by the SDK's `ControlledStrategy`; the built-in ClientApp registers
`labels_reply`, a team's own calls `reconciler.sdk.answer_label_queries(app)`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field

from flwr.app import ConfigRecord, Context, Message, RecordDict
from flwr.clientapp import ClientApp
from flwr.serverapp import Grid
from flwr.supercore.run import Run

from reconciler.flowerapp.exchange import EXPIRED, Replies, RoundOverrun, exchange
from reconciler.selector import Labels, Selector, node_labels

LABELS_ACTION = "thunderline_labels"
LABELS_QUERY = f"query.{LABELS_ACTION}"
LABELS_RECORD = "labels"


def labels_reply(msg: Message, context: Context) -> Message:
    """The ClientApp's answer to a labels query: its node's labels, nothing else."""
    record = ConfigRecord(dict(node_labels(context.node_config)))
    return Message(RecordDict({LABELS_RECORD: record}), reply_to=msg)


def answer_label_queries(app: ClientApp) -> None:
    """Let `app` answer the control plane's labels query (for clientSelector)."""
    app.query(LABELS_ACTION)(labels_reply)


LABELS_SECONDS = 60.0  # how long one batch of labels queries may take


@dataclass
class NodeBook:
    """The labels of every node this run asked, and the selector that picks among them.
    `learned` hears of each batch of answers (the run reports them to the daemon)."""

    selector: Selector
    learned: Callable[[Mapping[int, Labels]], None] = lambda found: None
    labels: dict[int, dict[str, str] | None] = field(default_factory=dict)  # None: silent
    answer_seconds: float = LABELS_SECONDS  # how long a node has to answer (its query's TTL)

    @classmethod
    def anything(cls) -> NodeBook:
        """A book that allows every node (no selector)."""
        return cls(Selector())

    def learn(self, grid: Grid, nodes: Iterable[int]) -> None:
        """Ask the nodes not asked yet (only when the selector restricts: otherwise every
        node is allowed and none is asked). A node that does not answer within its query's
        TTL is left out for the rest of the run (it may be dedicated to another tenant);
        one whose ClientApp has no labels handler (an error reply) counts as unlabelled."""
        new = sorted(set(nodes) - set(self.labels)) if self.selector.restricts else []
        if not new:
            return
        queries = [
            Message(RecordDict(), dst_node_id=node, message_type=LABELS_QUERY) for node in new
        ]
        deadline = time.monotonic() + 2 * self.answer_seconds
        try:
            replies = exchange(grid, queries, deadline=deadline, ttl=self.answer_seconds)
        except RoundOverrun:
            replies = Replies()
        found: dict[int, dict[str, str]] = {}
        for reply in replies.messages:
            node = replies.nodes.get(reply.metadata.reply_to_message_id)
            if node is None or (reply.has_error() and reply.error.code in EXPIRED):
                continue  # Flower answered for a node that stayed silent
            record = (
                reply.content.config_records.get(LABELS_RECORD) if reply.has_content() else None
            )
            found[node] = node_labels(dict(record or {}))
        self.labels.update({node: found.get(node) for node in new})
        if found:
            self.learned(found)

    def allows(self, node: int) -> bool:
        if not self.selector.restricts:
            return True
        labels = self.labels.get(node)
        return labels is not None and self.selector.matches(labels)

    def describe(self) -> str:
        """` matching clientSelector tags [gpu]` once the selector left a node out, else ``."""
        left_out = any(not self.allows(node) for node in self.labels)
        return f" matching {self.selector.describe()}" if left_out else ""


class Selected(Grid):
    """A Grid that lists only the nodes `book` allows; everything else goes to `grid`."""

    def __init__(self, grid: Grid, book: NodeBook) -> None:
        self.grid = grid
        self.book = book

    def set_run(self, run: Run) -> None:
        self.grid.set_run(run)

    @property
    def run(self) -> Run:
        return self.grid.run

    def create_message(
        self,
        content: RecordDict,
        message_type: str,
        dst_node_id: int,
        group_id: str,
        ttl: float | None = None,
    ) -> Message:
        return self.grid.create_message(content, message_type, dst_node_id, group_id, ttl)

    def get_node_ids(self) -> Iterable[int]:
        """The allowed online nodes; labels of nodes new to the run are asked first, so a
        strategy waiting for enough nodes sees newcomers that match."""
        online = sorted(self.grid.get_node_ids())
        self.book.learn(self.grid, online)
        return [node for node in online if self.book.allows(node)]

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        return self.grid.push_messages(messages)

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return self.grid.pull_messages(message_ids)

    def send_and_receive(
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        return self.grid.send_and_receive(messages, timeout=timeout)
