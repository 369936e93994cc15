"""The signed webhook, end to end: outbox events in PostgreSQL, the delivery thread, a real
HTTP receiver on loopback running the verification recipe of docs/notifications.md."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Callable

import pytest

from reconciler.notify import Notifier
from reconciler.notify.signing import signed_headers
from reconciler.store import Store
from tests.notify.conftest import eventually, run_federation, sent_count
from tests.notify.receiver import Received, SignedWebhookReceiver

pytestmark = pytest.mark.pg

KEY = "webhook-signing-key-for-tests"
CONFIG = """\
apiVersion: thunderline.okocorp/v1
kind: NotificationConfig
services:
  ops:
    type: webhook
    urlEnv: TEST_OPS_URL
    signingKeyEnv: TEST_OPS_KEY
subscriptions:
  - services: [ops]
    events: [created, started, round, completed]
"""
# created, started, round x2, completed per federation of two rounds
PER_FEDERATION = 5


@pytest.fixture
def receiver(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    webhook = SignedWebhookReceiver(KEY.encode())
    with webhook.running():
        monkeypatch.setenv("TEST_OPS_URL", f"{webhook.url}/hooks/thunderline")
        monkeypatch.setenv("TEST_OPS_KEY", KEY)
        yield webhook


def _triggers(received: list[Received], federation: str) -> list[str]:
    bodies = [r.json() for r in received]
    return [b["trigger"] for b in bodies if b["federation"]["name"] == federation]


def test_every_delivery_verifies_and_a_replay_is_refused(
    store: Store, receiver: SignedWebhookReceiver, notifier_on: Callable[..., Notifier]
) -> None:
    notifier_on(CONFIG)
    run_federation(store, "signed", [{"accuracy": 0.5}, {"accuracy": 0.7}])

    receiver.wait_for(lambda r: len(r.accepted()) == PER_FEDERATION)
    assert all(r.status == 200 for r in receiver.received)  # every signature verified
    first = receiver.received[0]
    assert first.path == "/hooks/thunderline"
    assert first.headers["x-thunderline-signature"].startswith("sha256=")

    # A captured request sent again: refused once it is older than the window ...
    stale = {k: v for k, v in first.headers.items() if k.startswith("x-thunderline")}
    stale["x-thunderline-timestamp"] = str(int(time.time()) - 301)
    assert _post(receiver.url, first.body, stale) == 401
    # ... and a body altered under a fresh timestamp never verifies.
    forged = {**stale, **_lower(signed_headers(b"not the key", first.body))}
    assert _post(receiver.url, first.body, forged) == 401
    # Within the window, the same delivery id is accepted once: nothing is done twice.
    assert _post(receiver.url, first.body, first.headers) == 200
    assert len(receiver.handled) == PER_FEDERATION


def test_events_arrive_in_order_per_federation(
    store: Store, receiver: SignedWebhookReceiver, notifier_on: Callable[..., Notifier]
) -> None:
    notifier_on(CONFIG)
    run_federation(store, "first", [{"loss": 0.4}, {"loss": 0.3}])
    run_federation(store, "second", [{"loss": 0.9}, {"loss": 0.8}])

    receiver.wait_for(lambda r: len(r.accepted()) == 2 * PER_FEDERATION)
    expected = ["created", "started", "round", "round", "completed"]
    assert _triggers(receiver.accepted(), "first") == expected
    assert _triggers(receiver.accepted(), "second") == expected
    rounds = [b["federation"]["round"] for b in (r.json() for r in receiver.accepted())]
    assert rounds[2:5] == [1, 2, 2]  # the round events, then completion at round 2/3


def test_a_receiver_answering_500_gets_the_same_event_again_until_it_takes_it(
    store: Store, receiver: SignedWebhookReceiver, notifier_on: Callable[..., Notifier]
) -> None:
    receiver.fail_next(3, status=500)
    notifier = notifier_on(CONFIG)
    run_federation(store, "flaky", [{"accuracy": 0.5}, {"accuracy": 0.6}])

    receiver.wait_for(lambda r: len(r.accepted()) == PER_FEDERATION)
    deliveries = [int(r.headers["x-thunderline-delivery"]) for r in receiver.received]
    assert deliveries[:4] == [deliveries[0]] * 4  # the first event, three refusals, then taken
    assert receiver.handled == sorted(receiver.handled)  # nothing overtook the failed one
    metrics = notifier.metrics  # type: ignore[attr-defined]
    eventually(lambda: sent_count(metrics, "ops", "delivered") == PER_FEDERATION)
    assert sent_count(metrics, "ops", "retried") == 3


def test_a_restarted_notifier_resumes_at_its_cursor_and_loses_nothing(
    store: Store, receiver: SignedWebhookReceiver, notifier_on: Callable[..., Notifier]
) -> None:
    before = notifier_on(CONFIG)
    run_federation(store, "before", [{"accuracy": 0.5}, {"accuracy": 0.6}])
    receiver.wait_for(lambda r: len(r.accepted()) == PER_FEDERATION)
    receiver.fail_next(1_000, status=503)  # the receiver goes down ...
    run_federation(store, "during", [{"accuracy": 0.1}, {"accuracy": 0.2}])
    receiver.wait_for(lambda r: len(r.received) >= PER_FEDERATION + 2)
    before.stop()  # ... and the daemon with it, mid-retry
    run_federation(store, "after", [{"accuracy": 0.3}, {"accuracy": 0.4}])
    receiver.recover()

    notifier_on(CONFIG)  # a new process: only the database remembers
    receiver.wait_for(lambda r: len(r.handled) == 3 * PER_FEDERATION)
    assert receiver.handled == sorted(receiver.handled)
    assert len(set(receiver.handled)) == 3 * PER_FEDERATION  # none twice, none missing
    assert _triggers(receiver.accepted(), "during")[0] == "created"


def test_a_standby_delivers_nothing(
    store: Store, receiver: SignedWebhookReceiver, notifier_on: Callable[..., Notifier]
) -> None:
    leading = False
    notifier_on(CONFIG, leading=lambda: leading)
    run_federation(store, "waiting", [{"accuracy": 0.5}, {"accuracy": 0.6}])
    time.sleep(1.0)  # ten polls of a standby
    assert receiver.received == []

    leading = True  # it takes over: everything since its cursor was made goes out
    receiver.wait_for(lambda r: len(r.accepted()) == PER_FEDERATION)


def _lower(headers: dict[str, str]) -> dict[str, str]:
    return {k.lower(): v for k, v in headers.items()}


def _post(url: str, body: bytes, headers: dict[str, str]) -> int:
    request = urllib.request.Request(url, body, headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=5) as answer:
            return int(answer.status)
    except urllib.error.HTTPError as exc:
        return exc.code
