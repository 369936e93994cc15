"""Message exchange with the SuperNodes, on a deadline and with a short poll.

Called by the ServerApp's round loop instead of `Grid.send_and_receive`, whose fixed
3-second sleep between pulls dominated round time, and which cannot fail a round that
overruns `rounds.timeoutSeconds`. Replies come back sorted by content digest, so
aggregation order (and so the float sums) does not depend on which node answered first.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable

from flwr.app import Message
from flwr.common.constant import ErrorCode
from flwr.serverapp import Grid

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


def online_nodes(grid: Grid) -> list[int]:
    return sorted(grid.get_node_ids())


def await_nodes(grid: Grid, minimum: int, *, deadline: float, waited_from: float) -> list[int]:
    """Online node ids once at least `minimum` are online; RoundOverrun at the deadline."""
    while len(nodes := online_nodes(grid)) < minimum:
        if time.monotonic() >= deadline:
            waited = time.monotonic() - waited_from
            raise RoundOverrun(
                f"only {len(nodes)} of {minimum} required SuperNodes online after {waited:.0f} s"
            )
        time.sleep(NODE_POLL_SECONDS)
    return nodes


def exchange(grid: Grid, messages: Iterable[Message], *, deadline: float) -> list[Message]:
    """Push messages, pull every reply until the deadline, return replies in stable order."""
    outgoing = list(messages)
    if not outgoing:
        return []
    pushed = [mid for mid in grid.push_messages(outgoing) if mid]
    if len(pushed) < len(outgoing):
        raise RoundOverrun(f"the SuperLink accepted {len(pushed)} of {len(outgoing)} messages")
    pending, replies = set(pushed), []
    while pending:
        got = list(grid.pull_messages(list(pending)))
        replies.extend(got)
        pending -= {reply.metadata.reply_to_message_id for reply in got}
        if pending and time.monotonic() >= deadline:
            raise RoundOverrun(f"{len(replies)} of {len(pushed)} SuperNodes replied in time")
        if pending:
            time.sleep(float(os.environ.get(POLL_ENV, POLL_SECONDS)))
    return sorted(replies, key=_stable_key)


def _stable_key(reply: Message) -> tuple[int, str]:
    if reply.has_error():
        return (0, reply.error.reason or "")
    return (1, reply.content.object_id)


def error_text(reply: Message) -> str:
    """The ClientApp's own exception message from an error reply, without Flower's wrapping."""
    reason = reply.error.reason or ""
    start, end = reason.find(":<'"), reason.rfind("'>")
    return reason[start + 3 : end] if 0 <= start < end else reason
