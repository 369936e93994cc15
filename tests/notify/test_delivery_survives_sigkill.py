"""#19's "done when": one federation on real Flower, with `reconciler run` SIGKILLed after its
first round and started again, still produces every notification it should: a signed
webhook delivery per configured event, Slack messages, commit statuses pending -> success on
the spec's commit in the fake GitHub, and an MLflow run (a real `mlflow server`) with one
step per round for each metric. Duplicates are allowed (at least once) and counted.

Real PostgreSQL, real Git remote, a real local SuperLink with three SuperNodes, the daemon as
a subprocess (tests/reliability/harness.py), receivers on loopback (receiver.py, forges.py).
"""

from __future__ import annotations

import signal
import time
import urllib.error
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.model import FederationKey, Phase
from reconciler.runtime.local import LocalFlower, free_port
from reconciler.store import Store
from tests.notify.conftest import eventually
from tests.notify.forges import FakeGitHub
from tests.notify.mlflow_server import MlflowServer
from tests.notify.receiver import Receiver, SignedWebhookReceiver
from tests.reliability.harness import (
    PROGRESS_SECRET,
    DaemonProcess,
    database,
    recorded,
    seed_remote,
    spec_path,
    spec_text,
    wait_for_phase,
)
from tests.source.gitutil import isolated_git

__all__ = ["isolated_git"]

pytestmark = [
    pytest.mark.flower,
    pytest.mark.e2e,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(1200),
]

ROUNDS = 3
KEY = FederationKey("crash", "notified")
BROKEN = FederationKey("crash", "broken")
KEY_BYTES, TOKEN = "sigkill-webhook-key", "sigkill-forge-token"
CONTEXT = f"thunderline/{KEY.tenant}/{KEY.name}"
WEBHOOK_EVENTS = ["created", "started", "round", "completed", "invalid"]
EXPECTED_WEBHOOK = Counter({"created": 1, "started": 1, "round": ROUNDS, "completed": 1})


def _notifications(forge: str, mlflow: str) -> str:
    return f"""\
apiVersion: thunderline.okocorp/v1
kind: NotificationConfig
services:
  ops: {{type: webhook, urlEnv: E2E_WEBHOOK_URL, signingKeyEnv: E2E_WEBHOOK_KEY}}
  chat: {{type: slack, urlEnv: E2E_SLACK_URL}}
  github: {{type: github, repository: okocorp/fl-specs, tokenEnv: E2E_TOKEN, apiUrl: '{forge}'}}
  tracking: {{type: mlflow, trackingUri: '{mlflow}'}}
subscriptions:
  - services: [ops]
    events: [{", ".join(WEBHOOK_EVENTS)}]
  - services: [chat]
    events: [completed, invalid]
  - services: [github]
    events: [started, round, completed, failed]
"""


@pytest.fixture
def receivers() -> Iterator[tuple[SignedWebhookReceiver, Receiver, FakeGitHub]]:
    webhook, slack = SignedWebhookReceiver(KEY_BYTES.encode()), Receiver()
    github = FakeGitHub(TOKEN, "okocorp/fl-specs")
    with webhook.running(), slack.running(), github.running():
        yield webhook, slack, github


def _patient(spec: str) -> str:
    return spec.replace("timeoutSeconds: 120", "timeoutSeconds: 600")  # a loaded 2-core box


def _wait_for_a_round(url: str, daemon: DaemonProcess, timeout: float) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and daemon.alive():
        found = recorded(url).get(KEY)
        if found is not None and found.current_round >= 1:
            return
        time.sleep(0.5)
    raise AssertionError("no round recorded before the kill:\n" + daemon.log()[-4000:])


def test_nothing_is_lost_when_the_daemon_is_sigkilled_mid_federation(
    tmp_path: Path, receivers: tuple[SignedWebhookReceiver, Receiver, FakeGitHub]
) -> None:
    webhook, slack, github = receivers
    remote = seed_remote(
        tmp_path / "git",
        {
            spec_path(KEY.name): _patient(spec_text(KEY.name, rounds=ROUNDS)),
            spec_path(BROKEN.name): spec_text(BROKEN.name).replace("total: 1", "total: 0"),
        },
    )
    spec_commit = remote.head()
    with (
        MlflowServer.running(tmp_path) as mlflow,
        LocalFlower(tmp_path / "flower", supernodes=3, progress_key=PROGRESS_SECRET.encode()) as flower,
        database() as url,
    ):  # fmt: skip
        config = tmp_path / "notifications.yaml"
        config.write_text(_notifications(github.url, mlflow.url))
        env = {
            "THUNDERLINE_NOTIFICATIONS": str(config),
            "E2E_WEBHOOK_URL": f"{webhook.url}/hooks",
            "E2E_WEBHOOK_KEY": KEY_BYTES,
            "E2E_SLACK_URL": f"{slack.url}/services/T0/B0/X",
            "E2E_TOKEN": TOKEN,
        }
        daemon = DaemonProcess(
            tmp_path / "daemon",
            repo=remote.url,
            superlink=flower.address,
            database_url=url,
            port=free_port(),
            extra_env=env,
        )
        try:
            # Prepare: the federation reports a round, then the daemon dies mid-federation.
            daemon.start()
            _wait_for_a_round(url, daemon, 400)
            daemon.stop(signal.SIGKILL)
            # Execute: started again, it sees the federation through and catches up.
            daemon.start()
            wait_for_phase(url, [KEY], Phase.COMPLETED, 600, daemon)
            try:
                eventually(lambda: github.states_of(spec_commit, CONTEXT)[-1:] == ["success"], 120)
                eventually(lambda: _webhook_triggers(webhook) >= EXPECTED_WEBHOOK, 120)
            except AssertionError:
                seen = [(r.path, r.status) for r in [*github.received, *webhook.received]]
                raise AssertionError(f"{spec_commit}: {seen}\n{daemon.log()[-3000:]}") from None
            with Store.connect(url) as store:
                rounds = store.rounds(KEY)
            metrics = sorted(rounds[0].metrics)
            run_id = _mlflow_run(mlflow, rounds_done=ROUNDS, metric=metrics[0])
        finally:
            daemon.stop()
        steps = {m: [s for s, _ in mlflow.metric_steps(run_id, m)] for m in metrics}

    # Assert: every configured event delivered (verified signatures), none lost.
    triggers = _webhook_triggers(webhook)
    assert triggers >= EXPECTED_WEBHOOK and triggers["completed"] == 1
    assert triggers["invalid"] == 1  # the broken spec: once, though two daemons saw it
    texts = [r.json()["text"] for r in slack.accepted()]
    assert any(t.startswith(f"{KEY} completed: round {ROUNDS}/{ROUNDS}") for t in texts)
    assert any(t.startswith(f"{BROKEN} invalid: ") for t in texts)
    states = github.states_of(spec_commit, CONTEXT)
    assert states[0] == "pending" and states[-1] == "success"
    assert set(states[:-1]) == {"pending"}
    assert metrics and all(s == list(range(1, ROUNDS + 1)) for s in steps.values()), steps
    duplicates = len(webhook.accepted()) - len(set(webhook.handled))
    print(f"\nwebhook deliveries {len(webhook.accepted())}, duplicates {duplicates}; "
          f"slack {len(texts)}; statuses {states}")  # fmt: skip


def _webhook_triggers(webhook: SignedWebhookReceiver) -> Counter[str]:
    """Triggers of the distinct deliveries the receiver verified (duplicates dropped)."""
    seen: dict[int, str] = {}
    for received in webhook.accepted():
        body = received.json()
        seen[body["delivery"]] = body["trigger"]
    return Counter(seen.values())


def _mlflow_run(mlflow: MlflowServer, *, rounds_done: int, metric: str) -> str:
    """The MLflow run of the federation's generation 1, once it holds every round."""
    found: list[str] = []

    def complete() -> bool:
        try:
            every = mlflow.runs(f"thunderline/{KEY.tenant}")
        except urllib.error.HTTPError:  # no experiment yet
            return False
        runs = [r for r in every if r["tags"].get("thunderline.name") == KEY.name]
        if len(runs) != 1 or runs[0]["info"]["status"] != "FINISHED":
            return False
        found[:] = [runs[0]["info"]["run_id"]]
        return len(mlflow.metric_steps(found[0], metric)) >= rounds_done

    eventually(complete, 120)
    return found[0]
