"""The page's recent events: the newest few lifecycle events, read with the federation's
other report parts (only for federations whose row moved) from real PostgreSQL."""

from __future__ import annotations

import pytest

from reconciler.daemon.reporting import build_status
from reconciler.model import Phase
from reconciler.notify.revisions import SpecCommit
from reconciler.report import render_status
from reconciler.report.model import EventStatus, event_summary
from reconciler.store import Store
from reconciler.store.reports import EVENTS_SHOWN
from tests.report.builders import T0, status
from tests.store.conftest import store, unique_spec, walk

__all__ = ["store"]


@pytest.mark.pg
def test_the_newest_events_oldest_first_and_only_for_the_asked_federations(store: Store) -> None:
    key = store.create(unique_spec()).key
    other = store.create(unique_spec()).key
    walk(store, key, Phase.STARTING, Phase.RUNNING)
    for number in range(1, 7):
        store.round_started(key, 1, number)
        store.round_completed(key, 1, number, {"accuracy": number / 10})

    parts = store.report_parts([key])

    assert other not in parts
    events = parts[key].events
    assert len(events) == EVENTS_SHOWN
    assert [e.id for e in events] == sorted(e.id for e in events)
    assert events[-1].type == "fl.round.completed"
    assert events[-1].payload["round"] == 6
    record = store.get(key)
    page = render_status([build_status(record, parts[key], revision=SpecCommit(""))])[
        f"status/{key.tenant}/{key.name}.md"
    ]
    section = page.split("## Recent events\n\n", 1)[1].split("\n\n", 1)[0].splitlines()
    assert section[0] == "| Time | Type | Details |"
    assert len(section) == 2 + EVENTS_SHOWN
    assert "| `fl.round.completed` | accuracy=0.6, round=6 |" in section[-1]
    assert "fl.federation.created" not in page  # older than the newest ten


def test_a_summary_is_one_short_line_of_the_payload() -> None:
    assert event_summary({"round": 3, "generation": 2, "metrics": {"loss": 0.123456}}) == (
        "loss=0.1235, round=3"
    )
    long = event_summary({"message": "x|y\n" * 100})
    assert len(long) == 100 and long.endswith("…") and "\n" not in long


def test_the_page_lists_events_and_none_without_them() -> None:
    events = (EventStatus(T0, "fl.federation.paused", "reason=a | b"),)
    page = render_status([status(events=events)])["status/team-a/coop-chat.md"]
    assert "| 2025-03-01T12:00:00Z | `fl.federation.paused` | reason=a \\| b |" in page
    assert "Recent events" not in render_status([status()])["status/team-a/coop-chat.md"]
