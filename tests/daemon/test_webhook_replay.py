"""A webhook delivery replayed against a running daemon asks for one cycle, not one per copy."""

from __future__ import annotations

import hashlib
import hmac
import json
import time

import pytest

from tests.daemon.conftest import WEBHOOK_SECRET, World
from tests.daemon.test_faults_and_http import get, post

pytestmark = [pytest.mark.pg, pytest.mark.git]


def github_push(after: str, delivery: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"ref": "refs/heads/main", "before": "0" * 40, "after": after}).encode()
    headers = {
        "X-GitHub-Event": "push",
        "X-GitHub-Delivery": delivery,
        "X-Hub-Signature-256": "sha256="
        + hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest(),
        "Content-Type": "application/json",
    }
    return body, headers


def settle(world: World, cycles: int, timeout: float = 20.0) -> int:
    """Wait until at least `cycles` cycles finished and no more start for a while."""
    deadline = time.monotonic() + timeout
    while world.daemon.cycles < cycles and time.monotonic() < deadline:
        time.sleep(0.05)
    time.sleep(1.0)  # long enough for a requested cycle to start and finish here
    return world.daemon.cycles


def test_a_replayed_delivery_requests_one_cycle(world: World) -> None:
    world.cycle()
    before = settle(world, world.daemon.cycles)
    body, headers = github_push(world.remote.head(), "72d3162e-cc78-11e3-81ab-4c9367dc0958")

    answers = [post(f"{world.daemon.http.url}/webhook", body, headers) for _ in range(6)]

    assert answers[0] == (202, {"accepted": True})
    assert answers[1:] == [(200, {"accepted": False, "duplicate": True})] * 5
    assert settle(world, before + 1) == before + 1  # one cycle, for the first copy only
    metrics = get(f"{world.daemon.http.url}/metrics")[1].decode()
    assert "thunderline_webhook_duplicates_total 5.0" in metrics


def test_a_captured_body_under_a_fresh_delivery_id_is_still_a_replay(world: World) -> None:
    """The delivery id header is not signed: whoever replays a body can change it."""
    world.cycle()
    before = settle(world, world.daemon.cycles)
    body, headers = github_push(world.remote.head(), "first-id")

    first = post(f"{world.daemon.http.url}/webhook", body, headers)
    again = post(f"{world.daemon.http.url}/webhook", body, headers | {"X-GitHub-Delivery": "new"})

    assert (first[0], again) == (202, (200, {"accepted": False, "duplicate": True}))
    assert settle(world, before + 1) == before + 1


def test_a_new_push_after_a_replay_is_acted_on(world: World) -> None:
    world.cycle()
    url = f"{world.daemon.http.url}/webhook"
    body, headers = github_push("a" * 40, "delivery-a")
    assert post(url, body, headers)[0] == 202
    assert post(url, body, headers)[0] == 200

    body, headers = github_push("b" * 40, "delivery-b")

    assert post(url, body, headers) == (202, {"accepted": True})
