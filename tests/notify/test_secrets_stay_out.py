"""Canary secrets in every place a notification secret comes from (a webhook URL with a
secret path, its signing key, a Slack URL, a forge token) never reach a log line, a metric or
an error, on the paths that format a failure: refused, answered 500, nobody listening."""

from __future__ import annotations

import logging
import socket
from collections.abc import Callable

import pytest

from reconciler.notify import Notifier
from reconciler.notify.transport import Request
from reconciler.store import Store
from tests.notify.conftest import eventually, run_federation, sent_count
from tests.notify.receiver import Receiver

pytestmark = pytest.mark.pg

CANARIES = {
    "TEST_HOOK_URL_PATH": "canary-hook-path-5e1f0b",
    "TEST_HOOK_KEY": "canary-hook-key-a93c27",
    "TEST_SLACK_PATH": "canary-slack-path-77d2e4",
    "TEST_FORGE_TOKEN": "canary-forge-token-c0ffee",
}
CONFIG = """\
apiVersion: thunderline.okocorp/v1
kind: NotificationConfig
services:
  hook: {type: webhook, urlEnv: TEST_HOOK_URL, signingKeyEnv: TEST_HOOK_KEY}
  chat: {type: slack, urlEnv: TEST_SLACK_URL}
  forge: {type: github, repository: o/r, tokenEnv: TEST_FORGE_TOKEN, apiUrl: API}
subscriptions:
  - services: [hook, chat, forge]
    events: [created]
"""


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_no_secret_in_logs_metrics_or_requests_reprs(
    store: Store,
    notifier_on: Callable[..., Notifier],
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    refusing = Receiver()
    refusing.fail_next(1_000, status=500)
    with refusing.running():
        monkeypatch.setenv("TEST_HOOK_URL", f"{refusing.url}/{CANARIES['TEST_HOOK_URL_PATH']}")
        monkeypatch.setenv("TEST_HOOK_KEY", CANARIES["TEST_HOOK_KEY"])
        nobody = f"http://127.0.0.1:{_closed_port()}"
        monkeypatch.setenv("TEST_SLACK_URL", f"{nobody}/{CANARIES['TEST_SLACK_PATH']}")
        monkeypatch.setenv("TEST_FORGE_TOKEN", CANARIES["TEST_FORGE_TOKEN"])
        caplog.set_level(logging.DEBUG)
        config = CONFIG.replace("apiUrl: API", f"apiUrl: {refusing.url}")
        notifier = notifier_on(config, revision_of=lambda key, generation: "a" * 40)
        run_federation(store, "canary", [])

        metrics = notifier.metrics  # type: ignore[attr-defined]
        for service in ("hook", "chat", "forge"):
            eventually(lambda s=service: sent_count(metrics, s, "retried") >= 2)
        exposition = metrics.exposition().decode()
        paths = [r.path for r in refusing.received]
        tokens = [r.headers.get("authorization", "") for r in refusing.received]

    # The canaries were in play: the requests carried them ...
    assert any(CANARIES["TEST_HOOK_URL_PATH"] in p for p in paths)
    assert f"Bearer {CANARIES['TEST_FORGE_TOKEN']}" in tokens
    produced = caplog.text + exposition
    assert "retrying" in caplog.text  # ... the failures were logged ...
    for name, canary in CANARIES.items():  # ... and no log line or metric holds one
        assert canary not in produced, name
    assert "canary" not in repr(Request("http://x/" + CANARIES["TEST_HOOK_URL_PATH"], b"{}"))
