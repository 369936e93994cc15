"""Webhook replays: what identifies a delivery, and the bounded log of those acted on."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading

import pytest

from reconciler.daemon.deliveries import DeliveryLog
from reconciler.source import PushEvent, verify_webhook
from reconciler.source.webhook import replay_keys

SECRET = b"webhook-secret"
BODY = json.dumps({"ref": "refs/heads/main", "after": "a" * 40, "commits": []}).encode()


def _sig(body: bytes) -> str:
    return "sha256=" + hmac.new(SECRET, body, hashlib.sha256).hexdigest()


@pytest.mark.parametrize(
    ("headers", "provider", "delivery"),
    [
        ({"X-GitHub-Event": "push", "X-GitHub-Delivery": "gh-1"}, "github", "gh-1"),
        (
            {"X-GitHub-Event": "push", "X-Gitea-Event": "push", "X-Gitea-Delivery": "gt-1"},
            "github",
            "gt-1",
        ),
        (
            {
                "X-Gitlab-Event": "Push Hook",
                "X-Gitlab-Event-UUID": "ev-1",
                "Idempotency-Key": "idem-1",
            },
            "gitlab",
            "idem-1",
        ),
        ({"X-Gitlab-Event": "Push Hook", "X-Gitlab-Event-UUID": "ev-1"}, "gitlab", "ev-1"),
        ({"X-Thunderline-Delivery": "tl-1"}, "generic", "tl-1"),
        ({"Idempotency-Key": "k-1"}, "generic", "k-1"),
    ],
    ids=[
        "github",
        "gitea",
        "gitlab-idempotency-key",
        "gitlab-event-uuid",
        "generic",
        "generic-key",
    ],
)
def test_each_provider_names_its_delivery(
    headers: dict[str, str], provider: str, delivery: str
) -> None:
    signed = dict(headers)
    if provider == "gitlab":
        signed["X-Gitlab-Token"] = SECRET.decode()
    elif provider == "github":
        signed["X-Hub-Signature-256"] = _sig(BODY)
    else:
        signed["X-Thunderline-Signature"] = _sig(BODY)
    if provider == "gitlab":
        body = json.dumps({"ref": "refs/heads/main", "after": "a" * 40}).encode()
    else:
        body = BODY

    event = verify_webhook(signed, body, secret=SECRET)

    assert event is not None and (event.provider, event.delivery) == (provider, delivery)


def test_replay_keys_cover_the_delivery_id_and_the_signed_body() -> None:
    event = PushEvent("refs/heads/main", "a" * 40, "github", delivery="d-1")

    keys = replay_keys(event, BODY)
    renamed = replay_keys(PushEvent("refs/heads/main", "a" * 40, "github", "d-2"), BODY)
    other_push = replay_keys(event, BODY.replace(b'"commits"', b'"before": "b", "commits"'))

    assert len(keys) == 2 and all(len(k) == 32 for k in keys)
    assert keys[1] == renamed[1]  # a captured body under a fresh id is the same delivery
    assert keys[0] == other_push[0] and keys[1] != other_push[1]
    # A generic hook with neither an id nor a revision cannot be told from its replay.
    assert replay_keys(PushEvent("", "", "generic"), b"") == ()
    huge = PushEvent("refs/heads/main", "", "github", delivery="x" * 60_000)
    assert [len(k) for k in replay_keys(huge, BODY)] == [32]  # memory per key is fixed


def test_a_replay_is_recognised_by_any_of_its_keys() -> None:
    log = DeliveryLog()

    assert log.first_time([b"id-1", b"body-1"])
    assert not log.first_time([b"id-1", b"body-1"])  # the same delivery again
    assert not log.first_time([b"id-2", b"body-1"])  # the same body under another id
    assert not log.first_time([b"id-1"])
    assert log.first_time([b"id-3", b"body-3"])


def test_without_keys_every_delivery_is_new_and_nothing_is_kept() -> None:
    log = DeliveryLog()

    assert all(log.first_time(()) for _ in range(5))
    assert len(log) == 0


def test_the_bound_holds_and_the_oldest_key_goes_first() -> None:
    log = DeliveryLog(capacity=100)

    for i in range(10_000):
        assert log.first_time([f"id-{i}".encode(), f"body-{i}".encode()])
        assert len(log) <= 100

    assert len(log) == 100
    assert not log.first_time([b"body-9999"])  # recent: remembered
    assert log.first_time([b"id-0"])  # long gone: counts as new again


def test_a_replay_keeps_its_delivery_remembered() -> None:
    log = DeliveryLog(capacity=3)
    log.first_time([b"a"])
    log.first_time([b"b"])
    log.first_time([b"c"])

    assert not log.first_time([b"a"])  # seen again: now the most recent
    log.first_time([b"d"])  # pushes out b, the least recently seen

    assert not log.first_time([b"a"])
    assert log.first_time([b"b"])


def test_concurrent_replays_let_exactly_one_through() -> None:
    log = DeliveryLog()
    start = threading.Barrier(8)
    firsts: list[bool] = []

    def deliver() -> None:
        start.wait()
        firsts.append(log.first_time([b"same-id", b"same-body"]))

    threads = [threading.Thread(target=deliver) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(firsts) == [False] * 7 + [True]


def test_capacity_must_be_positive() -> None:
    with pytest.raises(ValueError):
        DeliveryLog(capacity=0)
