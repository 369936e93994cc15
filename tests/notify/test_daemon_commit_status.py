"""The daemon end to end: a spec pushed to a real Git remote runs on the in-memory runtime,
and the fake GitHub sees pending then success on the very commit that holds the spec."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from reconciler.notify.config import parse_notifications
from tests.daemon.conftest import make_world, running
from tests.notify.conftest import eventually
from tests.notify.forges import FakeGitHub

pytestmark = [pytest.mark.pg, pytest.mark.git]

TOKEN = "daemon-forge-token"
CONTEXT = "thunderline/acme/digits-fedavg"


def test_the_spec_commit_goes_pending_then_success(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    github = FakeGitHub(TOKEN, "okocorp/fl-specs")
    monkeypatch.setenv("TEST_GITHUB_TOKEN", TOKEN)
    with github.running():
        text = (
            "apiVersion: thunderline.okocorp/v1\nkind: NotificationConfig\nservices:\n"
            "  github: {type: github, repository: okocorp/fl-specs, tokenEnv: TEST_GITHUB_TOKEN,"
            f" apiUrl: '{github.url}'}}\n"
            "subscriptions:\n  - services: [github]\n"
            "    events: [created, started, round, completed, failed]\n"
        )
        config = parse_notifications(text.encode(), "notifications.yaml", os.environ)
        for world in running(make_world(tmp_path, pg_url, notifications=config)):
            spec_commit = world.remote.head()  # the seeded commit: the spec's
            world.cycle()
            (run_id,) = world.run_ids()
            for _ in range(5):
                world.runtime.advance(run_id)
            world.cycle()
            eventually(lambda sha=spec_commit: github.states_of(sha, CONTEXT)[-1:] == ["success"])
    states = github.states_of(spec_commit, CONTEXT)
    assert states[0] == "pending" and set(states[:-1]) == {"pending"}
    assert all(r.status == 201 for r in github.received)  # only the spec's commit, always
    final = github.statuses[(spec_commit, CONTEXT)][-1]["description"]
    assert final.startswith("completed; round 5/5, accuracy=")
