"""The notices no transition writes: a stalled run (told once per stall) and an invalid spec
(told once per file and revision), decided purely, remembered in PostgreSQL across
restarts, and delivered from the outbox to a real receiver on loopback."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from reconciler.daemon.unrecorded import Unrecorded
from reconciler.model import FederationKey, Phase, SpecProblem
from reconciler.notify import Notifier
from reconciler.notify.notices import INVALID, STALLED, invalid_notices, stalled_notices
from reconciler.store import Store
from reconciler.store.notices import NewNotice, RunProgress
from tests.notify.conftest import eventually
from tests.notify.receiver import Receiver
from tests.store.conftest import make_spec, walk

KEY = FederationKey("acme", "chat")
NOW = datetime(2026, 12, 4, 12, 0, tzinfo=UTC)
PROBLEM = SpecProblem("specs/acme/chat.yaml", 4, 10, "spec.rounds.total", "0 is less than 1")
CONFIG = """\
apiVersion: thunderline.okocorp/v1
kind: NotificationConfig
stalledAfter: 1s
services:
  chat: {type: slack, urlEnv: TEST_SLACK_URL}
subscriptions:
  - services: [chat]
    events: [stalled, invalid]
"""


def _progress(idle: float, *, round: int = 2) -> RunProgress:
    return RunProgress(KEY, 1, round, NOW - timedelta(seconds=idle), NOW)


@pytest.mark.parametrize(("idle", "stalled"), [(599.0, False), (600.0, True), (3600.0, True)])
def test_a_run_is_stalled_once_it_went_stalled_after_without_progress(
    idle: float, stalled: bool
) -> None:
    notices = stalled_notices([_progress(idle)], after=600.0)

    assert bool(notices) is stalled
    if stalled:
        (notice,) = notices
        since = (NOW - timedelta(seconds=idle)).isoformat()
        assert (notice.kind, notice.key, notice.generation) == (STALLED, KEY, 1)
        assert notice.fingerprint == f"1@{since}"  # the same stall, the same notice
        assert notice.payload["round"] == 2
        assert notice.payload["reason"].startswith("no round progress for ")


def test_an_invalid_spec_is_one_notice_per_file_and_revision() -> None:
    found = Unrecorded(KEY, PROBLEM.file, "abc123", (PROBLEM, PROBLEM))

    (notice,) = invalid_notices([found], lambda path, revision: revision)

    assert (notice.kind, notice.key, notice.generation) == (INVALID, KEY, None)
    assert notice.fingerprint == "specs/acme/chat.yaml@abc123"
    assert notice.payload["reason"] == f"{PROBLEM} (and 1 more)"
    assert notice.payload["problems"] == [str(PROBLEM)] * 2
    assert notice.payload["condition"] == "SpecInvalid"


@pytest.mark.pg
def test_the_store_raises_a_notice_once_and_its_event_is_in_the_outbox(store: Store) -> None:
    first = NewNotice(INVALID, KEY, "specs/acme/chat.yaml@r1", payload={"revision": "r1"})
    again = NewNotice(INVALID, KEY, "specs/acme/chat.yaml@r1", payload={"revision": "r1"})
    later = NewNotice(INVALID, KEY, "specs/acme/chat.yaml@r2", payload={"revision": "r2"})

    raised = store.raise_notices([first])
    assert store.raise_notices([again]) == []
    raised += store.raise_notices([later, again])

    events = store.events()
    assert [e.id for e in events] == raised
    assert [(e.type, e.key, e.payload["revision"]) for e in events] == [
        (INVALID, KEY, "r1"),
        (INVALID, KEY, "r2"),
    ]


@pytest.mark.pg
def test_run_progress_is_the_last_round_or_phase_change_of_runs_under_way(store: Store) -> None:
    running = store.create(make_spec("running")).key
    walk(store, running, Phase.STARTING, Phase.RUNNING)
    store.create(make_spec("pending"))
    entered = store.run_progress()[0].since
    time.sleep(0.05)
    store.round_started(running, 1, 1)

    (progress,) = store.run_progress()

    assert (progress.key, progress.generation) == (running, 1)
    assert entered < progress.since <= progress.now


@pytest.fixture
def slack(monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    receiver = Receiver()
    with receiver.running():
        monkeypatch.setenv("TEST_SLACK_URL", f"{receiver.url}/services/T0/B0/X")
        yield receiver


def _texts(receiver: Receiver) -> list[str]:
    return [r.json()["text"] for r in receiver.accepted()]


@pytest.mark.pg
def test_a_stall_is_told_once_and_again_after_progress(
    store: Store, slack: Receiver, notifier_on: Callable[..., Notifier]
) -> None:
    key = store.create(make_spec("chat")).key
    walk(store, key, Phase.STARTING, Phase.RUNNING)
    notifier_on(CONFIG)

    slack.wait_for(lambda r: len(r.accepted()) == 1)
    time.sleep(1.5)  # more than stalledAfter again: still the same stall
    assert len(slack.accepted()) == 1
    store.round_started(key, 1, 1)  # progress; then nothing more: a second stall
    slack.wait_for(lambda r: len(r.accepted()) == 2)

    texts = _texts(slack)
    assert all(t.startswith("acme/chat stalled: ") and "no round progress for " in t for t in texts)
    assert [e.type for e in store.events() if e.type == STALLED] == [STALLED, STALLED]


@pytest.mark.pg
def test_an_invalid_spec_is_told_once_per_revision_across_cycles_and_restarts(
    store: Store, slack: Receiver, notifier_on: Callable[..., Notifier]
) -> None:
    notifier = notifier_on(CONFIG)
    broken = {KEY: Unrecorded(KEY, PROBLEM.file, "r1", (PROBLEM,))}
    for _ in range(3):  # three cycles find the same broken file
        notifier.found_invalid(broken)
        notifier.wake()
        time.sleep(0.2)
    slack.wait_for(lambda r: len(r.accepted()) == 1)
    notifier.stop()

    restarted = notifier_on(CONFIG)  # a new daemon: the store remembers what was told
    restarted.found_invalid(broken)
    restarted.found_invalid(None)  # a cycle without a plan changes nothing
    time.sleep(0.5)
    assert len(slack.accepted()) == 1
    restarted.found_invalid({KEY: Unrecorded(KEY, PROBLEM.file, "r2", (PROBLEM,))})
    restarted.wake()
    slack.wait_for(lambda r: len(r.accepted()) == 2)

    assert _texts(slack) == [f"acme/chat invalid: {PROBLEM}"] * 2
    eventually(lambda: [e.payload["revision"] for e in store.events()] == ["r1", "r2"])
