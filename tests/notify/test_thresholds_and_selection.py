"""Which events a service hears of: tenants, labels, triggers, and threshold crossings; and
Slack's incoming-webhook format, end to end to a loopback receiver."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest

from reconciler.model import FederationKey
from reconciler.notify import Notifier
from reconciler.notify.config import Subscription, Threshold
from reconciler.notify.triggers import Facts, notice_for
from reconciler.store import Store
from reconciler.store.records import Event
from tests.notify.conftest import run_federation
from tests.notify.receiver import Receiver

KEY = FederationKey("acme", "chat")
ABOVE = Threshold("accuracy", 0.9, above=True)


def _event(kind: str, **payload: Any) -> Event:
    return Event(7, kind, KEY, 1, {"generation": 1, **payload}, datetime.now(UTC))


def _round(number: int, accuracy: float, before: float | None) -> tuple[Event, Facts]:
    event = _event("fl.round.completed", round=number, metrics={"accuracy": accuracy})
    previous = None if before is None else {"accuracy": before}
    return event, Facts(round=number, metrics={"accuracy": accuracy}, previous_metrics=previous)


@pytest.mark.parametrize(
    ("accuracy", "before", "fires"),
    [(0.95, None, True), (0.95, 0.5, True), (0.97, 0.95, False), (0.5, 0.95, False),
     (0.9, 0.5, False)],
    ids=["first-round-above", "crossing", "staying-above", "falling", "equal-is-not-above"],
)  # fmt: skip
def test_a_threshold_fires_on_the_round_that_crosses_it(
    accuracy: float, before: float | None, fires: bool
) -> None:
    subscription = Subscription(services=("chat",), thresholds=(ABOVE,))
    event, facts = _round(2, accuracy, before)

    notice = notice_for([subscription], event, facts)

    assert (notice is not None and notice.crossed == (ABOVE,)) is fires


@pytest.mark.parametrize(
    ("subscription", "labels", "heard"),
    [
        (Subscription(("s",), frozenset({"completed"})), {}, True),
        (Subscription(("s",), frozenset({"failed"})), {}, False),
        (Subscription(("s",), frozenset({"completed"}), tenants=frozenset({"other"})), {}, False),
        (Subscription(("s",), frozenset({"completed"}), labels={"team": "nlp"}),
         {"team": "nlp", "x": "y"}, True),
        (Subscription(("s",), frozenset({"completed"}), labels={"team": "nlp"}),
         {"team": "vision"}, False),
    ],
    ids=["asked", "other-trigger", "other-tenant", "labels-match", "labels-differ"],
)  # fmt: skip
def test_a_subscription_selects_by_trigger_tenant_and_labels(
    subscription: Subscription, labels: dict[str, str], heard: bool
) -> None:
    notice = notice_for([subscription], _event("fl.federation.completed"), Facts(labels=labels))

    assert (notice is not None) is heard


def test_running_and_client_events_are_never_notified() -> None:
    everything = Subscription(("s",), frozenset({"created", "started", "round", "completed"}))

    for kind in ("fl.federation.running", "fl.round.started", "fl.client.joined"):
        assert notice_for([everything], _event(kind), Facts()) is None


@pytest.mark.pg
def test_slack_hears_of_each_crossing_once_in_its_own_format(
    store: Store, notifier_on: Callable[..., Notifier], monkeypatch: pytest.MonkeyPatch
) -> None:
    slack = Receiver()
    with slack.running():
        monkeypatch.setenv("TEST_SLACK_URL", f"{slack.url}/services/T000/B000/XXXX")
        notifier_on(
            "apiVersion: thunderline.okocorp/v1\nkind: NotificationConfig\n"
            "services:\n  chat: {type: slack, urlEnv: TEST_SLACK_URL}\n"
            "subscriptions:\n  - services: [chat]\n    events: [completed]\n"
            "    thresholds: [{metric: accuracy, above: 0.9}]\n"
        )
        rounds = [0.5, 0.95, 0.97, 0.85, 0.92]
        run_federation(store, "chat", [{"accuracy": a} for a in rounds], rounds={"total": 5})

        slack.wait_for(lambda r: len(r.accepted()) == 3)
    texts = [r.json()["text"] for r in slack.accepted()]
    assert texts == [
        "acme/chat round completed: round 2/5, accuracy=0.95 (crossed accuracy > 0.9)",
        "acme/chat round completed: round 5/5, accuracy=0.92 (crossed accuracy > 0.9)",
        "acme/chat completed: round 5/5, accuracy=0.92",
    ]
    block = slack.accepted()[0].json()["blocks"][0]
    assert block["type"] == "section" and block["text"]["type"] == "mrkdwn"
    assert block["text"]["text"] == texts[0].replace(">", "&gt;")
