"""Message exchange with the SuperNodes, on a deadline and with a short poll.

Called by the ServerApp's round loop instead of `Grid.send_and_receive`, whose fixed
3-second sleep between pulls dominated round time, and which cannot fail a round that
overruns `rounds.timeoutSeconds`. Replies come back sorted by content digest, so
aggregation order (and so the float sums) does not depend on which node answered first.

Each task carries the lease's `ttlSeconds` as its Flower message TTL (the SuperLink then
refuses a reply pushed after it), and the exchange itself stops waiting for a node at that
time: such nodes come back as `late`. `judge` applies the lease to what came back
(flowerapp/lease.py); `Selected` is a Grid that shows a strategy only the nodes a
clientSelector allows, so Flower's own sampling never picks another.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, field

from flwr.app import Message
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid

from reconciler.flowerapp.lease import LEASE_TTL, PROCESSED_METRIC, Lease

# Seconds between reply pulls; Flower's own send_and_receive sleeps 3 s. The benchmark sets
# the variable to 3 to measure a round the way a default Flower deployment runs it.
POLL_ENV = "THUNDERLINE_EXCHANGE_POLL_SECONDS"
POLL_SECONDS = 0.25
NODE_POLL_SECONDS = 0.5


class RoundOverrun(Exception):
    """The round's deadline passed; the message says what was missing."""


class NodesLost(Exception):
    """SuperNodes went away during the round (Flower answered for them: no heartbeat)."""

    def __init__(self, nodes: list[int]) -> None:
        super().__init__(f"SuperNode(s) {', '.join(map(str, nodes))} stopped answering mid-round")
        self.nodes = nodes


def lost_nodes(replies: Iterable[Message]) -> list[int]:
    """The nodes Flower answered for because they missed their heartbeats."""
    return sorted(
        r.metadata.src_node_id
        for r in replies
        if r.has_error() and r.error.code == ErrorCode.NODE_UNAVAILABLE
    )


# Flower's answers for a task whose TTL ran out before its reply came.
EXPIRED = (ErrorCode.MESSAGE_UNAVAILABLE, ErrorCode.REPLY_MESSAGE_UNAVAILABLE)


def online_nodes(grid: Grid) -> list[int]:
    return sorted(grid.get_node_ids())


def await_nodes(
    grid: Grid, minimum: int, *, deadline: float, waited_from: float, which: str = ""
) -> list[int]:
    """Online node ids once at least `minimum` are online; RoundOverrun at the deadline.
    `which` narrows the message when the grid lists only selected nodes."""
    while len(nodes := online_nodes(grid)) < minimum:
        if time.monotonic() >= deadline:
            waited = time.monotonic() - waited_from
            raise RoundOverrun(
                f"only {len(nodes)} of {minimum} required SuperNodes{which} online"
                f" after {waited:.0f} s"
            )
        time.sleep(NODE_POLL_SECONDS)
    return nodes


@dataclass
class Replies:
    """What came back for one set of tasks: replies in stable order, and the nodes whose
    reply had not come when the lease's ttl ran out."""

    messages: list[Message] = field(default_factory=list)
    late: list[int] = field(default_factory=list)
    nodes: dict[str, int] = field(default_factory=dict)  # task message id -> its node


def exchange(
    grid: Grid, messages: Iterable[Message], *, deadline: float, ttl: float | None = None
) -> Replies:
    """Push messages (with `ttl` as their Flower TTL), pull replies until every node replied
    or its ttl ran out; RoundOverrun when the round's deadline comes first."""
    outgoing = list(messages)
    if not outgoing:
        return Replies()
    for message in outgoing:
        if ttl is not None:
            message.metadata.ttl = ttl
    pushed = list(grid.push_messages(outgoing))
    if not all(pushed):
        accepted = sum(1 for mid in pushed if mid)
        raise RoundOverrun(f"the SuperLink accepted {accepted} of {len(outgoing)} messages")
    lease_end = time.monotonic() + ttl if ttl is not None else None
    nodes = {mid: m.metadata.dst_node_id for mid, m in zip(pushed, outgoing, strict=True)}
    pending, replies = set(pushed), []
    while pending:
        got = list(grid.pull_messages(list(pending)))
        now = time.monotonic()
        if lease_end is not None and now > lease_end + _poll_seconds():
            break  # what arrived after the lease's end does not count
        replies.extend(got)
        pending -= {reply.metadata.reply_to_message_id for reply in got}
        if pending and now >= deadline:
            raise RoundOverrun(f"{len(replies)} of {len(pushed)} SuperNodes replied in time")
        if pending:
            time.sleep(_poll_seconds())
    return Replies(sorted(replies, key=_stable_key), sorted(nodes[mid] for mid in pending), nodes)


def _poll_seconds() -> float:
    return float(os.environ.get(POLL_ENV, POLL_SECONDS))


def judge(replies: Replies, lease: Lease) -> tuple[list[Message], dict[int, str]]:
    """The replies that count under `lease`, and the nodes dropped with the reason."""
    dropped = dict.fromkeys(replies.late, LEASE_TTL)
    kept = []
    for reply in replies.messages:
        node = reply.metadata.src_node_id
        if reply.has_error() and reply.error.code in EXPIRED:
            # Flower answers for an expired task from the SuperLink, not from the node.
            dropped[replies.nodes.get(reply.metadata.reply_to_message_id, node)] = LEASE_TTL
        elif not reply.has_error() and (why := lease.verdict(processed(reply))):
            dropped[node] = why
        else:
            kept.append(reply)
    return kept, dropped


def processed(reply: Message) -> float | None:
    """What the reply says its node processed for the task (None: it does not say)."""
    for record in reply.content.metric_records.values():
        value = record.get(PROCESSED_METRIC)
        if isinstance(value, int | float):
            return float(value)
    return None


def _stable_key(reply: Message) -> tuple[int, str]:
    if reply.has_error():
        return (0, reply.error.reason or "")
    return (1, reply.content.object_id)


def error_text(reply: Message) -> str:
    """The ClientApp's own exception message from an error reply, without Flower's wrapping."""
    reason = reply.error.reason or ""
    start, end = reason.find(":<'"), reason.rfind("'>")
    return reason[start + 3 : end] if 0 <= start < end else reason
