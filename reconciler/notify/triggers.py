"""Which outbox events a service is told about: pure, no I/O.

`notice_for(service's subscriptions, event, facts)` is the one decision: the event's trigger
(`created`, `round`, ...), whether some subscription selects the federation (tenant, labels)
and asks for that trigger, and which of its thresholds the round crossed. A round crosses a
threshold when its metric is on the threshold's side and the round before it (same
generation) was not, or there was none: a metric that stays above fires once, not per round.
Called by `reconciler.notify.delivery` for each event of each service's stream.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler import lifecycle
from reconciler.notify.config import Subscription, Threshold
from reconciler.notify.notices import INVALID, STALLED
from reconciler.store.records import Event

# Outbox event types -> the trigger names of the notifications file.
TRIGGERS: Mapping[str, str] = {
    "fl.federation.created": "created",
    "fl.federation.started": "started",
    "fl.federation.paused": "paused",
    "fl.federation.resumed": "resumed",
    lifecycle.UPDATED: "updated",
    "fl.federation.completed": "completed",
    "fl.federation.failed": "failed",
    "fl.federation.stopped": "stopped",
    lifecycle.ROUND_COMPLETED: "round",
    STALLED: "stalled",  # raised by the daemon (notices.py), not by a transition
    INVALID: "invalid",
}


@dataclass(frozen=True)
class Facts:
    """What the store says about an event's federation, read when the event is delivered."""

    labels: Mapping[str, str] = field(default_factory=dict)
    round: int = 0  # the event's round, or the federation's current round
    total_rounds: int = 0
    metrics: Mapping[str, Any] = field(default_factory=dict)  # of that round
    previous_metrics: Mapping[str, Any] | None = None  # of the round before; None: no such round


@dataclass(frozen=True)
class Notice:
    """One event to tell one service, with why (the trigger and the thresholds it crossed)."""

    event: Event
    trigger: str
    facts: Facts
    crossed: tuple[Threshold, ...] = ()


def trigger_of(event: Event) -> str | None:
    """The event's trigger name; None for events no notification is about."""
    return TRIGGERS.get(event.type) if event.key is not None else None


def selects(subscription: Subscription, event: Event, labels: Mapping[str, str]) -> bool:
    """The subscription covers the event's federation (its tenant and labels)."""
    key = event.key
    if key is None:
        return False
    if subscription.tenants is not None and key.tenant not in subscription.tenants:
        return False
    wanted = subscription.labels or {}
    return all(labels.get(k) == v for k, v in wanted.items())


def crossed(thresholds: Sequence[Threshold], facts: Facts) -> tuple[Threshold, ...]:
    before = facts.previous_metrics or {}
    return tuple(t for t in thresholds if t.holds(facts.metrics) and not t.holds(before))


def notice_for(subscriptions: Sequence[Subscription], event: Event, facts: Facts) -> Notice | None:
    """The notice for `event` under `subscriptions` (one service's), or None: not asked for.
    Several matching subscriptions still make one notice: a service hears of an event once."""
    trigger = trigger_of(event)
    if trigger is None:
        return None
    matching = [s for s in subscriptions if selects(s, event, facts.labels)]
    asked = any(trigger in s.events for s in matching)
    hits: tuple[Threshold, ...] = ()
    if trigger == "round":
        hits = crossed([t for s in matching for t in s.thresholds], facts)
    if not asked and not hits:
        return None
    return Notice(event, trigger, facts, hits)


def needs_labels(subscriptions: Sequence[Subscription]) -> bool:
    """Some subscription selects by label, so the federation's labels must be read."""
    return any(s.labels for s in subscriptions)
