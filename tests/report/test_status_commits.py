"""Status commits as the daemon's report step makes them, on real PostgreSQL and a real Git
remote: subjects name the federations and what changed."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.daemon.cycle import CycleOutcome
from reconciler.daemon.reporting import StatusReporter
from reconciler.model import FederationKey, Phase
from reconciler.report import StatusWriter
from reconciler.report.writer import MESSAGE_CHARS, status_message
from reconciler.store import Store
from tests.report.builders import status
from tests.source.gitutil import Remote, git, make_remote
from tests.store.conftest import store, unique_spec, walk

__all__ = ["store"]


def _subjects(remote: Remote) -> list[str]:
    return git(remote.bare, "log", "--format=%s", "main").splitlines()


def _cycle(reporter: StatusReporter) -> CycleOutcome:
    outcome = CycleOutcome(started_at=datetime.now(UTC))
    reporter(outcome)
    return outcome


@pytest.mark.pg
@pytest.mark.git
def test_each_commit_names_the_federations_that_changed(store: Store, tmp_path: Path) -> None:
    remote = make_remote(tmp_path, {"README.md": "specs\n"})
    reporter = StatusReporter(store, StatusWriter(tmp_path / "w", remote=remote.url))
    running = store.create(unique_spec()).key
    walk(store, running, Phase.STARTING, Phase.RUNNING)
    store.round_started(running, 1, 1)

    assert _cycle(reporter).pushed
    assert _subjects(remote)[0] == f"status: {running} Running round 1/3"

    other = store.create(unique_spec()).key
    walk(store, running, Phase.STOPPED)
    _cycle(reporter)
    first, second = sorted([running, other])
    names = {running: "Stopped", other: "Pending"}
    assert _subjects(remote)[0] == f"status: {first} {names[first]}; {second} {names[second]}"

    before = _subjects(remote)
    _cycle(reporter)  # nothing changed: no commit
    assert _subjects(remote) == before


def test_a_long_list_is_cut_with_how_many_more() -> None:
    changed = [status("acme", f"fed-{n:02}", phase=Phase.COMPLETED) for n in range(20)]
    message = status_message(changed, [FederationKey("zeta", "gone")])
    assert len(message) <= MESSAGE_CHARS
    assert message.startswith("status: acme/fed-00 Completed; acme/fed-01 Completed; ")
    shown = message.count("; ")  # parts shown: one "; " before each but the first, and "; and"
    assert message.endswith(f"; and {21 - shown} more")
    assert status_message([], [FederationKey("zeta", "gone")]) == "status: zeta/gone removed"
    assert status_message([status(phase=Phase.PAUSED)]) == (
        "status: team-a/coop-chat Paused round 2/10"
    )


@pytest.mark.pg
@pytest.mark.git
def test_changes_within_the_interval_are_one_later_commit_and_none_is_lost(
    store: Store, tmp_path: Path
) -> None:
    remote = make_remote(tmp_path, {"README.md": "specs\n"})
    writer = StatusWriter(tmp_path / "w", remote=remote.url)
    reporter = StatusReporter(store, writer, interval=1.0)
    key = store.create(unique_spec()).key
    walk(store, key, Phase.STARTING, Phase.RUNNING)
    assert _cycle(reporter).pushed  # the first commit goes out at once
    committed = len(_subjects(remote))

    for number in (1, 2):
        store.round_started(key, 1, number)
        assert _cycle(reporter).pushed is None  # held back: within the interval
    assert len(_subjects(remote)) == committed

    deadline = time.monotonic() + 10
    while len(_subjects(remote)) == committed and time.monotonic() < deadline:
        time.sleep(0.1)  # no cycle comes: the timer commits once the interval has passed
    assert _subjects(remote)[0] == f"status: {key} Running round 2/3"  # the latest state
    assert len(_subjects(remote)) == committed + 1  # two changes, one commit

    walk(store, key, Phase.STOPPED)
    assert _cycle(reporter).pushed is None
    reporter.close()  # shutdown: what the interval held back goes out now
    assert len(_subjects(remote)) == committed + 2
    assert _subjects(remote)[0] == f"status: {key} Stopped"
