"""The daemon's HTTP surface: nothing unauthenticated gets through, bodies and request
rates are bounded, and no request can start work of its own.

Against a real daemon (`tests.daemon.conftest.world`: real PostgreSQL and Git, the
in-memory runtime), over real sockets; the rate limiter alone is driven by a fake clock.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json

import pytest

from reconciler.daemon.ratelimit import Limit, RateLimiter
from reconciler.runtime.progress import make_token
from tests.daemon.conftest import WEBHOOK_SECRET, World, isolated_git, world

__all__ = ["isolated_git", "world"]

pytestmark = [pytest.mark.pg, pytest.mark.git]


Answer = tuple[int, http.client.HTTPMessage, bytes]


def request(
    world: World, method: str, path: str, body: bytes = b"", headers: dict[str, str] | None = None
) -> Answer:
    """Status, headers (names compared case-insensitively, as HTTP does) and body."""
    host, port = world.daemon.http.url.removeprefix("http://").split(":")
    return exchange((host, int(port)), method, path, body, headers)


def exchange(
    address: tuple[str, int],
    method: str,
    path: str,
    body: bytes = b"",
    headers: dict[str, str] | None = None,
) -> Answer:
    """One request on a new connection to `address`: status, headers and body."""
    conn = http.client.HTTPConnection(*address, timeout=10)
    try:
        conn.request(method, path, body=body or None, headers=headers or {})
        response = conn.getresponse()
        return response.status, response.headers, response.read()
    finally:
        conn.close()


def signed(body: bytes, secret: bytes = WEBHOOK_SECRET) -> dict[str, str]:
    digest = hmac.new(secret, body, hashlib.sha256).hexdigest()
    return {"X-Hub-Signature-256": f"sha256={digest}", "X-GitHub-Event": "push"}


PUSH = json.dumps({"ref": "refs/heads/main", "commits": [{"modified": ["specs/x.yaml"]}]})


@pytest.mark.parametrize(
    "headers",
    [
        {},
        {"X-Hub-Signature-256": "sha256=" + "0" * 64, "X-GitHub-Event": "push"},
        {"X-Hub-Signature-256": "md5=abc", "X-GitHub-Event": "push"},
        signed(PUSH.encode(), secret=b"someone-else"),
        {"X-Gitlab-Token": "wrong", "X-Gitlab-Event": "Push Hook"},
    ],
    ids=["unsigned", "wrong-digest", "wrong-algorithm", "wrong-secret", "wrong-gitlab-token"],
)
def test_the_webhook_refuses_what_is_not_signed_with_the_secret(
    world: World, headers: dict[str, str]
) -> None:
    world.cycle()
    cycles = world.daemon.cycles

    status, _, _ = request(world, "POST", "/webhook", PUSH.encode(), headers)

    assert status in (400, 401, 403)
    assert world.daemon.cycles == cycles  # no cycle was asked for


@pytest.mark.parametrize(
    "auth",
    ["", "Bearer ", "Bearer not-a-token", "Basic dXNlcjpwYXNz"],
    ids=["none", "empty", "garbage", "basic"],
)
def test_progress_reports_without_the_runs_token_record_nothing(world: World, auth: str) -> None:
    world.cycle()
    events = len(world.store.events())
    report = {"federation": "acme/digits-fedavg", "generation": 1, "attempt": 1}
    report |= {"kind": "completed", "round": 5}
    headers = {"Content-Type": "application/json"} | ({"Authorization": auth} if auth else {})

    status, _, _ = request(world, "POST", "/v1/progress", json.dumps(report).encode(), headers)

    assert status in (400, 401)
    assert len(world.store.events()) == events


def test_a_valid_token_for_another_federation_changes_nothing(world: World) -> None:
    world.cycle()
    events = len(world.store.events())
    token = make_token(b"progress-test-secret", "acme/other", 1, 1, 1)
    report = {"federation": "acme/digits-fedavg", "generation": 1, "attempt": 1, "run_id": 1}
    report |= {"kind": "completed", "round": 5}
    headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}

    status, _, _ = request(world, "POST", "/v1/progress", json.dumps(report).encode(), headers)

    assert status == 401
    assert len(world.store.events()) == events


def test_a_genuine_webhook_only_asks_for_a_cycle(world: World) -> None:
    """Even an authentic push starts nothing by itself: the cycle reads Git, and Git has
    not changed, so the plan is empty and no run is submitted."""
    world.cycle()
    runs = world.run_ids()

    status, _, _ = request(world, "POST", "/webhook", PUSH.encode(), signed(PUSH.encode()))
    world.cycle()

    assert status == 202
    assert world.run_ids() == runs
    outcome = world.daemon.last_outcome
    assert outcome is not None and outcome.plan is not None and not outcome.plan.has_changes


def test_unknown_routes_and_methods_are_refused(world: World) -> None:
    for method, path in (("POST", "/v1/run"), ("POST", "/admin"), ("PUT", "/webhook")):
        status, _, _ = request(world, method, path, b"{}")
        assert status in (404, 405, 501), (method, path)


def tight_limits(world: World) -> None:
    """Small budgets (refilled every 10 s), so that the test sends few requests."""
    limits = {r: Limit(rate=0.1, burst=5) for r in ("/webhook", "/v1/progress", "other")}
    world.daemon.http.endpoints.limiter = RateLimiter(limits)


def test_request_rate_is_limited_per_client_with_retry_after(world: World) -> None:
    tight_limits(world)

    answers = [request(world, "GET", "/healthz") for _ in range(8)]

    assert [s for s, _, _ in answers] == [200] * 5 + [429] * 3
    assert all(int(h["Retry-After"]) >= 1 for s, h, _ in answers if s == 429)
    status, _, _ = request(world, "POST", "/webhook", PUSH.encode(), signed(PUSH.encode()))
    assert status == 202  # each route has its own budget


def test_webhook_floods_are_refused_before_the_body_is_read(world: World) -> None:
    tight_limits(world)
    world.cycle()
    endpoints = world.daemon.http.endpoints
    asked: list[str] = []
    forward = endpoints.request_cycle
    endpoints.request_cycle = lambda why: (asked.append(why), forward(why))[-1]
    body = PUSH.encode()

    statuses = [request(world, "POST", "/webhook", body, signed(body))[0] for _ in range(8)]

    assert statuses == [202] * 5 + [429] * 3
    metrics = request(world, "GET", "/metrics")[2].decode()
    assert 'code="429"' in metrics
    # Each accepted push asks for a cycle (they coalesce when they overlap one); the three
    # refused ones ask for nothing. Counted at the request, not in cycles run: how many
    # cycles five requests become depends on how fast the machine runs them.
    assert len(asked) == 5


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_buckets_refill_at_their_rate_and_stay_separate() -> None:
    clock = Clock()
    limiter = RateLimiter({"/r": Limit(rate=2.0, burst=3), "other": Limit(1, 1)}, clock=clock)

    assert [limiter.allow("a", "/r") for _ in range(4)] == [True, True, True, False]
    assert limiter.allow("b", "/r")  # another client has its own bucket
    clock.now = 0.5  # one token back at 2 per second
    assert [limiter.allow("a", "/r") for _ in range(2)] == [True, False]
    clock.now = 100.0  # never more than the burst
    assert [limiter.allow("a", "/r") for _ in range(4)] == [True, True, True, False]
    assert limiter.route_of("/r?x=1") == "/r" and limiter.route_of("/nope") == "other"


def test_memory_stays_bounded_whatever_the_clients() -> None:
    limiter = RateLimiter({"other": Limit(1, 1)}, max_buckets=100, clock=Clock())

    for i in range(10_000):
        limiter.allow(f"10.0.{i // 256}.{i % 256}", "other")

    assert len(limiter) == 100
    assert limiter.allow("10.0.0.0", "other")  # forgotten long ago: a full bucket again
