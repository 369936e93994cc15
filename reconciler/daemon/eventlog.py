"""One INFO log line per lifecycle event, read from the event outbox after each cycle.

Every phase change and every completed round is recorded by the store as exactly one event,
in the transaction that makes it, whoever made it (apply, the bulk start, the progress sink).
The outbox is therefore the one place to log them from: `LifecycleLog.drain()` (called by the
daemon after each cycle, which progress reports also trigger) logs the events committed
since it last looked, in order, once each: submitted with its Flower run id, round r/N with
its headline metrics, paused, resumed, stopped, completed with the checkpoint's sha256, failed
with its reason. Events from before the daemon started are not logged again. When INFO is
off for this logger, nothing is read but the newest id.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from typing import Any

from reconciler import lifecycle
from reconciler.model import FederationKey
from reconciler.store import Store, StoreError
from reconciler.store.records import Event

log = logging.getLogger("reconciler.lifecycle")
_BATCH = 1000
_HEADLINE = 3  # metrics shown per round line


class LifecycleLog:
    def __init__(self, store: Store) -> None:
        self.store = store
        self._after: int | None = None  # the last event id logged (or skipped)

    def start(self) -> None:
        """Remember where the outbox ends now: only what comes later is logged."""
        try:
            self._after = self.store.last_event_id()
        except StoreError:
            self._after = None  # tried again at the first drain

    def drain(self, total_rounds: Callable[[FederationKey], int] = lambda key: 0) -> None:
        try:
            if self._after is None or not log.isEnabledFor(logging.INFO):
                self._after = self.store.last_event_id()
                return
            while True:
                events = self.store.events(after_id=self._after, limit=_BATCH)
                for event in events:
                    self._log(event, total_rounds)
                    self._after = event.id
                if len(events) < _BATCH:
                    return
        except StoreError:
            return  # the store's failure is logged with the cycle's; read on next time

    def _log(self, event: Event, total_rounds: Callable[[FederationKey], int]) -> None:
        key, p = event.key, event.payload
        if key is None:
            return
        line = _line(event.type, p, total_rounds(key))
        if line is None:
            return
        if event.type == "fl.federation.completed":
            line += self._checkpoint(key)
        log.info("federation %s %s", key, line)

    def _checkpoint(self, key: FederationKey) -> str:
        try:
            artifact = self.store.latest_artifact(key)
        except StoreError:
            return ""
        if artifact is None:
            return "; no checkpoint recorded"
        return f"; checkpoint round {artifact.round} sha256 {artifact.sha256} at {artifact.uri}"


def _line(kind: str, p: Mapping[str, Any], total: int) -> str | None:
    """The message of one event, or None for events not worth an INFO line."""
    generation = p.get("generation")
    reason = f": {p['reason']}" if p.get("reason") else ""
    if kind == lifecycle.ROUND_COMPLETED:
        of = f"/{total}" if total else ""
        metrics = headline(p.get("metrics") or {})
        return f"round {p.get('round')}{of} completed" + (f": {metrics}" if metrics else "")
    if kind == "fl.federation.started":
        how = "resubmitted" if p.get("reason") else "submitted"
        return (
            f"{how}: Flower run {p.get('run_id')} (generation {generation}, attempt "
            f"{p.get('attempt')}, from round {p.get('start_round')}){reason}"
        )
    if kind == "fl.federation.resumed":
        return (
            f"resumed: Flower run {p.get('run_id')} from round {p.get('start_round')}"
            f" (generation {generation}){reason}"
        )
    if kind == "fl.federation.created":
        return f"created at generation {generation} ({p.get('path')})"
    if kind == lifecycle.UPDATED:
        changed = ", ".join(p.get("changed") or ()) or "spec"
        return f"updated to generation {generation} in place ({changed})"
    if kind.startswith("fl.federation."):
        return f"{kind.removeprefix('fl.federation.')}{reason}"
    return None  # round starts, aggregates and clients: in the events, not the log


def headline(metrics: Mapping[str, Any], limit: int = _HEADLINE) -> str:
    """`accuracy=0.9312 loss=0.2101`: the first few metrics by name, 4 significant digits."""
    shown = [
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(metrics.items())
    ]
    return " ".join(shown[:limit]) + (" ..." if len(shown) > limit else "")
