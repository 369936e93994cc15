"""Fixtures for the notification tests: a migrated store, federations that make events, and
a notifier started on a notifications file written by the test."""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterator

import pytest

from reconciler.model import FederationKey, Phase
from reconciler.notify import Notifier
from reconciler.notify.config import parse_notifications
from reconciler.notify.delivery import RevisionOf
from reconciler.settings import Backoff
from reconciler.store import Store
from reconciler.telemetry.metrics import Metrics
from tests.store.conftest import make_spec, store, walk

__all__ = ["store"]

FAST = Backoff(delays=(0.05, 0.1, 0.2), jitter=0.0)  # retries within a test's patience


def run_federation(
    store: Store,
    name: str,
    metrics: list[dict[str, float]],
    *,
    tenant: str = "acme",
    **spec: object,
) -> FederationKey:
    """Record a federation that starts, runs `len(metrics)` rounds and completes."""
    created = store.create(make_spec(name, tenant, **spec))
    walk(store, created.key, Phase.STARTING, Phase.RUNNING)
    for number, values in enumerate(metrics, start=1):
        store.round_started(created.key, 1, number)
        store.round_completed(created.key, 1, number, values)
    walk(store, created.key, Phase.COMPLETED)
    return created.key


def eventually(condition: Callable[[], bool], timeout: float = 10.0) -> None:
    """Until `condition()` holds (the sender counts an answer just after the receiver sent it)."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in time"
        time.sleep(0.05)


def no_revision(key: FederationKey, generation: int) -> str | None:
    return ""


def sent_count(metrics: Metrics, service: str, outcome: str) -> float:
    value = metrics.registry.get_sample_value(
        "thunderline_notifications_total", {"service": service, "outcome": outcome}
    )
    return value or 0.0


@pytest.fixture
def notifier_on(store: Store) -> Iterator[Callable[..., Notifier]]:
    """`notifier_on(yaml_text, leading=..., revision_of=...)`: a started notifier on `store`
    (stopped at the end); its `metrics` are on the returned object as `.metrics`."""
    started: list[Notifier] = []

    def start(
        text: str,
        *,
        leading: Callable[[], bool] = lambda: True,
        revision_of: RevisionOf = no_revision,
        on: Store | None = None,
    ) -> Notifier:
        config = parse_notifications(text.encode(), "notifications.yaml", os.environ)
        metrics = Metrics()
        notifier = Notifier(
            config,
            on or store,
            metrics=metrics,
            is_leader=leading,
            revision_of=revision_of,
            backoff=FAST,
            poll=0.1,
        )
        notifier.metrics = metrics  # type: ignore[attr-defined]
        started.append(notifier.start())
        return notifier

    yield start
    for notifier in started:
        notifier.stop()
