"""The loop under faults, and its HTTP surface: what is refused, what is kept."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import shutil
import time
import urllib.error
import urllib.request

import pytest
import yaml

from reconciler.model import Phase
from tests.daemon.conftest import SPEC, SPEC_PATH, WEBHOOK_SECRET, World

pytestmark = [pytest.mark.pg, pytest.mark.git]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, dict]:
    request = urllib.request.Request(url, data=body, method="POST", headers=headers)
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"{}")
    except urllib.error.HTTPError as exc:
        return exc.code, json.loads(exc.read() or b"{}")


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


def test_remote_down_for_several_cycles_stops_nothing(world: World) -> None:
    world.cycle()
    assert world.record().phase is Phase.STARTING
    moved = world.remote.bare.with_name("moved.git")
    shutil.move(world.remote.bare, moved)  # the remote is gone
    for _ in range(3):
        world.cycle()
        outcome = world.daemon.last_outcome
        assert outcome is not None and outcome.source_error
        assert outcome.plan is not None and not outcome.plan.has_changes
    assert world.record().phase is Phase.STARTING
    conditions = {c.type: c for c in world.daemon.reporter.statuses[world.record().key].conditions}
    assert conditions["SourceUnavailable"].status == "True"
    assert "moved" not in conditions["SourceUnavailable"].message  # names the configured URL
    shutil.move(moved, world.remote.bare)  # it comes back
    world.cycle()
    assert not world.daemon.last_outcome.source_error  # type: ignore[union-attr]
    statuses = world.daemon.reporter.statuses
    assert "SourceUnavailable" not in {c.type for c in statuses[world.record().key].conditions}


def test_webhook_with_bad_signature_is_refused_and_starts_nothing(world: World) -> None:
    world.cycle()
    before = world.daemon.cycles
    body = json.dumps({"ref": "refs/heads/main", "after": "0" * 40}).encode()
    status, _ = post(
        f"{world.daemon.http.url}/webhook",
        body,
        {"X-GitHub-Event": "push", "X-Hub-Signature-256": "sha256=" + "0" * 64},
    )
    assert status == 401
    assert world.daemon.cycles == before
    signature = hmac.new(WEBHOOK_SECRET, body, hashlib.sha256).hexdigest()
    status, reply = post(
        f"{world.daemon.http.url}/webhook",
        body,
        {
            "X-GitHub-Event": "push",
            "X-Hub-Signature-256": f"sha256={signature}",
            "Content-Type": "application/json",
        },
    )
    assert (status, reply) == (202, {"accepted": True})


def test_progress_with_a_wrong_token_records_nothing(world: World) -> None:
    world.cycle()
    report = {
        "federation": "acme/digits-fedavg",
        "generation": 1,
        "attempt": 1,
        "run_id": world.run_ids()[0],
        "kind": "round_started",
        "round": 1,
    }
    status, _ = post(
        f"{world.daemon.http.url}/v1/progress",
        json.dumps(report).encode(),
        {"Authorization": "Bearer forged", "Content-Type": "application/json"},
    )
    assert status == 401
    assert world.record().current_round == 0 and world.record().phase is Phase.STARTING


def test_oversized_bodies_are_refused_before_reading(world: World) -> None:
    host, port = world.daemon.http.url.removeprefix("http://").split(":")
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    conn.putrequest("POST", "/v1/progress")
    conn.putheader("Content-Length", str(2 << 20))
    conn.endheaders()  # announce 2 MiB, send none of it: the answer must not wait for it
    response = conn.getresponse()
    assert response.status == 413
    assert response.getheader("Connection") == "close"
    conn.close()


def test_probes_and_metrics(world: World) -> None:
    world.cycle()
    assert get(f"{world.daemon.http.url}/healthz")[0] == 200
    status, body = get(f"{world.daemon.http.url}/readyz")
    assert status == 200 and json.loads(body)["role"] == "leader"
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    world.cycle()
    metrics = get(f"{world.daemon.http.url}/metrics")[1].decode()
    assert 'thunderline_reconcile_total{result="success"}' in metrics
    assert 'thunderline_federations{phase="Running"} 1.0' in metrics


def test_a_users_push_racing_a_status_commit_both_survive(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)  # progress makes the daemon write status concurrently
    changed = SPEC.replace("total: 5", "total: 7")
    world.push({SPEC_PATH: changed}, "more rounds")
    world.cycle()
    head = world.remote.head()
    assert world.remote.show(head, SPEC_PATH) == changed.rstrip("\n")  # git show strips it
    status = yaml.safe_load(world.remote.show(head, "status/acme/digits-fedavg.yaml"))["status"]
    assert status["rounds"]["total"] == 7


class FlakyLock:
    """A leader lock whose connection dies once, then can be taken again."""

    def __init__(self) -> None:
        self.held = True
        self.acquired = 0

    def is_held(self) -> bool:
        return self.held

    def try_acquire(self) -> bool:
        self.acquired += 1
        self.held = True
        return True

    def release(self) -> None:
        self.held = False


def test_a_leader_that_lost_its_lock_tries_again_within_seconds(world: World) -> None:
    lock = FlakyLock()
    world.daemon.parts.leader = lock  # type: ignore[assignment]
    world.daemon.role = "leader"
    lock.held = False  # the lock's connection died
    world.daemon.request_cycle("test")
    deadline = time.monotonic() + 10  # the poll interval here is an hour
    while lock.acquired == 0 and time.monotonic() < deadline:
        time.sleep(0.1)
    assert lock.acquired >= 1
    assert world.daemon.cycle_now(timeout=30) and world.daemon.role == "leader"
