"""What a notice says about its federation beyond the event: labels, rounds, metrics.

Read from the store when the event is delivered (the outbox row carries only the event's own
payload): the federation's labels (for selecting by label), its round count, the metrics of
the event's round (or of the last completed round), and the round before's metrics (for
threshold crossings). A federation deleted since has no labels and no rounds. Cached by
event id, so the services reading one event ask the store once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from reconciler import lifecycle
from reconciler.notify.triggers import Facts
from reconciler.store import NotFound, Store
from reconciler.store.records import Event, RoundRecord

_CACHED = 256  # events whose facts are kept: more than one batch of every service is behind


class FactsReader:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._cache: dict[int, Facts] = {}

    def __call__(self, event: Event) -> Facts:
        """The facts of `event`'s federation; raises `StoreError` (the delivery retries)."""
        found = self._cache.get(event.id)
        if found is None:
            found = self._read(event)
            if len(self._cache) >= _CACHED:
                self._cache.clear()
            self._cache[event.id] = found
        return found

    def _read(self, event: Event) -> Facts:
        key = event.key
        assert key is not None  # only federation events have triggers
        try:
            record = self.store.get(key)
        except NotFound:
            return Facts()
        rounds = [
            r for r in self.store.rounds(key) if r.generation == event.generation
        ]  # one generation's rounds, by number
        metadata: Mapping[str, Any] = record.document.get("metadata") or {}
        labels = {str(k): str(v) for k, v in (metadata.get("labels") or {}).items()}
        number, metrics = _round_of(event, rounds, record.current_round)
        return Facts(
            labels=labels,
            round=number,
            total_rounds=record.total_rounds,
            metrics=metrics,
            previous_metrics=_completed_metrics(rounds, number - 1),
        )


def _round_of(
    event: Event, rounds: list[RoundRecord], current: int
) -> tuple[int, Mapping[str, Any]]:
    """The round a notice speaks of: the event's own, else the last completed one."""
    if event.type == lifecycle.ROUND_COMPLETED:
        return int(event.payload.get("round") or 0), event.payload.get("metrics") or {}
    done = [r for r in rounds if r.status == "completed"]
    if not done:
        return current, {}
    return max(current, done[-1].number), done[-1].metrics


def _completed_metrics(rounds: list[RoundRecord], number: int) -> Mapping[str, Any] | None:
    return next((r.metrics for r in rounds if r.number == number and r.status == "completed"), None)
