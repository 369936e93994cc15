"""Leases and node selection inside a run, without Flower processes: the pure verdicts, and
the exchange, the labels query and the selected grid over an in-memory Grid that answers
like a SuperLink (a node that never replies, a reply over the token bound, an expired task).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import pytest
from flwr.app import ConfigRecord, Context, Error, Message, MetricRecord, RecordDict
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid
from flwr.supercore.task_identity import TaskIdentity

from reconciler.flowerapp import exchange
from reconciler.flowerapp.lease import (
    LEASE_EXCEEDED,
    LEASE_TTL,
    PROCESSED_METRIC,
    Lease,
    dropped_metrics,
    lease_of,
)
from reconciler.flowerapp.nodes import LABELS_QUERY, NodeBook, Selected, labels_reply
from reconciler.flowerapp.settings import Control, parse_control, spec_terms
from reconciler.selector import NodeLabels, Selector, node_labels, selector_of

Answer = Callable[[Message], Message | None]  # a node's reply to a task (None: never)


@pytest.fixture(autouse=True)
def inside_a_run() -> Iterator[None]:
    """Messages are made inside a Flower task; Flower sets who that task is."""
    before = (TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id)
    TaskIdentity.run_id, TaskIdentity.node_id, TaskIdentity.task_id = 5, 1, 9
    yield
    TaskIdentity._run_id, TaskIdentity._node_id, TaskIdentity._task_id = before


class MemoryGrid(Grid):
    """Online nodes and, per node, how it answers; pull returns what was answered."""

    def __init__(self, answers: dict[int, Answer]) -> None:
        self.answers = answers
        self.replies: dict[str, Message] = {}
        self.sent: list[Message] = []

    def set_run(self, run: object) -> None:  # type: ignore[override]
        raise NotImplementedError

    @property
    def run(self) -> object:  # type: ignore[override]
        raise NotImplementedError

    def create_message(self, *args: object, **kwargs: object) -> Message:  # type: ignore[override]
        raise NotImplementedError

    def get_node_ids(self) -> Iterable[int]:
        return list(self.answers)

    def push_messages(self, messages: Iterable[Message]) -> Iterable[str]:
        ids = []
        for message in messages:
            message.metadata.__dict__["_message_id"] = message.object_id
            self.sent.append(message)
            reply = self.answers[message.metadata.dst_node_id](message)
            if reply is not None:
                self.replies[message.metadata.message_id] = reply
            ids.append(message.metadata.message_id)
        return ids

    def pull_messages(self, message_ids: Iterable[str]) -> Iterable[Message]:
        return [self.replies.pop(mid) for mid in message_ids if mid in self.replies]

    def send_and_receive(  # type: ignore[override]
        self, messages: Iterable[Message], *, timeout: float | None = None
    ) -> Iterable[Message]:
        raise NotImplementedError


def processed(amount: float) -> Answer:
    def answer(task: Message) -> Message:
        metrics = MetricRecord({"num-examples": 10.0, PROCESSED_METRIC: amount})
        return Message(RecordDict({"metrics": metrics}), reply_to=task)

    return answer


def never(task: Message) -> None:
    return None


def expired(task: Message) -> Message:
    error = Error(ErrorCode.MESSAGE_UNAVAILABLE, "Error: Message Unavailable - expired")
    return Message(error, reply_to=task)


def labelled(**labels: str) -> Answer:
    return lambda task: Message(RecordDict({"labels": ConfigRecord(dict(labels))}), reply_to=task)


def tasks(grid: MemoryGrid) -> list[Message]:
    return [Message(RecordDict(), dst_node_id=n, message_type="train") for n in grid.answers]


# --- the lease ---------------------------------------------------------------------------


def test_the_lease_of_a_spec_fills_the_schema_default() -> None:
    assert lease_of({}) == Lease(3600.0, None)
    assert lease_of({"constraints": {"lease": {"ttlSeconds": 90, "maxTokens": 500}}}) == Lease(
        90.0, 500
    )


def test_a_reply_over_max_tokens_does_not_count() -> None:
    lease = Lease(60, max_tokens=100)
    assert [lease.verdict(100), lease.verdict(101), lease.verdict(None)] == [
        "",
        LEASE_EXCEEDED,
        "",
    ]
    assert Lease(60).verdict(10**9) == ""  # no maxTokens: no bound


def test_dropped_nodes_are_counted_per_reason_in_the_round_metrics() -> None:
    counts = dropped_metrics({1: LEASE_TTL, 2: LEASE_TTL, 3: LEASE_EXCEEDED})
    assert counts == {"dropped": 3.0, "dropped-lease-ttl": 2.0, "dropped-lease-exceeded": 1.0}
    assert dropped_metrics({}) == {}


def test_the_exchange_stops_waiting_for_a_node_when_its_lease_ends() -> None:
    grid = MemoryGrid({1: processed(5), 2: processed(5), 3: never})
    began = time.monotonic()

    replies = exchange.exchange(grid, tasks(grid), deadline=began + 30, ttl=0.4)

    assert time.monotonic() - began < 5  # the lease, not the round's deadline, ended it
    assert sorted(r.metadata.src_node_id for r in replies.messages) == [1, 2]
    assert replies.late == [3]
    assert all(task.metadata.ttl == 0.4 for task in grid.sent)  # Flower's TTL is the lease's


def test_the_round_deadline_still_fails_a_round_before_the_lease_ends() -> None:
    grid = MemoryGrid({1: processed(5), 2: never})
    with pytest.raises(exchange.RoundOverrun, match="1 of 2 SuperNodes replied in time"):
        exchange.exchange(grid, tasks(grid), deadline=time.monotonic() + 0.3, ttl=60)


def test_judging_replies_drops_late_expired_and_over_the_bound() -> None:
    grid = MemoryGrid({1: processed(50), 2: processed(500), 3: expired, 4: never})
    replies = exchange.exchange(grid, tasks(grid), deadline=time.monotonic() + 30, ttl=0.3)

    kept, dropped = exchange.judge(replies, Lease(0.3, max_tokens=100))

    assert [r.metadata.src_node_id for r in kept] == [1]
    assert dropped == {2: LEASE_EXCEEDED, 3: LEASE_TTL, 4: LEASE_TTL}


# --- node selection ----------------------------------------------------------------------


def test_a_selector_takes_tagged_nodes_of_its_tenant_or_shared_ones() -> None:
    gpu = selector_of({"clientSelector": {"tags": ["gpu", "eu"]}}, "acme")
    assert gpu.matches({"tags": "gpu, eu"}) and gpu.matches({"tags": "eu,gpu", "tenant": "acme"})
    assert not gpu.matches({"tags": "gpu"}) and not gpu.matches({})
    assert not gpu.matches({"tags": "eu,gpu", "tenant": "globex"})  # dedicated to another
    assert gpu.describe() == "clientSelector tags [eu, gpu], tenant acme"
    anyone = selector_of({}, "acme")  # no clientSelector: still never another tenant's node
    assert anyone.matches({}) and anyone.matches({"tenant": "acme", "tags": "cpu"})
    assert not anyone.matches({"tenant": "globex"})
    assert selector_of({"clientSelector": {"tenant": "acme"}}, "acme") == anyone
    outside = selector_of({}, None)  # a run the reconciler did not start: every node
    assert not outside.restricts and outside.matches({"tenant": "globex"})


def test_only_label_keys_leave_a_node() -> None:
    config = {"partition-id": 0, "tags": "gpu", "tenant": "acme", "data-path": "/secret"}
    assert node_labels(config) == {"tags": "gpu", "tenant": "acme"}
    context = Context(run_id=1, node_id=7, node_config=config, state=RecordDict(), run_config={})
    task = Message(RecordDict(), dst_node_id=7, message_type=LABELS_QUERY)
    reply = labels_reply(task, context)
    assert dict(reply.content.config_records["labels"]) == {"tags": "gpu", "tenant": "acme"}


def test_the_selected_grid_asks_new_nodes_once_and_lists_only_matching_ones() -> None:
    grid = MemoryGrid({1: labelled(tags="gpu"), 2: labelled(), 3: never})
    heard: list[dict[int, dict[str, str]]] = []
    book = NodeBook(
        Selector(frozenset({"gpu"})), lambda found: heard.append(dict(found)), answer_seconds=0.3
    )
    selected = Selected(grid, book)

    first, again = list(selected.get_node_ids()), list(selected.get_node_ids())

    assert first == again == [1]
    assert heard == [{1: {"tags": "gpu"}, 2: {}}]  # asked once; 3 never answered: left out
    assert book.labels[3] is None and not book.allows(3)
    assert book.describe() == " matching clientSelector tags [gpu]"
    assert [m.metadata.message_type for m in grid.sent] == [LABELS_QUERY] * 3


def test_without_a_selector_no_node_is_asked() -> None:
    grid = MemoryGrid({1: never, 2: never})
    assert list(Selected(grid, NodeBook.anything()).get_node_ids()) == [1, 2]
    assert grid.sent == []


def test_admission_counts_matching_and_not_yet_known_nodes() -> None:
    labels = NodeLabels((1, 2, 3, 4), {"acme": {1: {"tags": "gpu"}, 2: {"tags": "cpu"}, 3: {}}})
    gpu = Selector(frozenset({"gpu"}))
    assert labels.eligible(gpu, "acme") == 2  # node 1 matches, node 4 is not known yet
    assert labels.eligible(gpu, "globex") == 4  # acme's reports do not count for globex
    assert labels.eligible(Selector(), "acme") == 4


def test_the_control_carries_the_lease_and_selector_to_a_teams_app() -> None:
    spec = {
        "constraints": {"lease": {"ttlSeconds": 120, "maxTokens": 4096}},
        "clientSelector": {"tags": ["gpu", "eu"], "tenant": "acme"},
    }
    control = Control("acme/x", 1, 1, 1, "file:///c", "/r", "http://p", **spec_terms(spec, "acme"))

    back = parse_control(control.to_json())

    assert back.lease == Lease(120.0, 4096)
    assert back.selector == Selector(frozenset({"eu", "gpu"}), "acme")


def test_a_clientapp_without_a_labels_handler_counts_as_a_shared_node() -> None:
    def no_handler(task: Message) -> Message:
        return Message(Error(ErrorCode.CLIENT_APP_RAISED_EXCEPTION, "no query"), reply_to=task)

    grid = MemoryGrid({1: no_handler, 2: labelled(tenant="globex"), 3: expired})
    book = NodeBook(selector_of({}, "acme"), answer_seconds=5)

    assert list(Selected(grid, book).get_node_ids()) == [1]  # 2: globex's; 3: silent
    assert book.labels == {1: {}, 2: {"tenant": "globex"}, 3: None}


def test_local_flower_refuses_labels_it_cannot_pass_as_node_config(tmp_path: Path) -> None:
    from reconciler.runtime.local import LocalFlower

    with pytest.raises(ValueError, match="values unquoted"):
        LocalFlower(tmp_path, supernodes=1, labels=[{"tags": 'gpu" partition-id=9 x="'}])
    with pytest.raises(ValueError, match="keys are"):
        LocalFlower(tmp_path, supernodes=1, labels=[{"partition-id": "9"}])
    with pytest.raises(ValueError, match="labels for 2 SuperNodes"):
        LocalFlower(tmp_path, supernodes=1, labels=[{}, {}])
