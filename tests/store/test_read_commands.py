"""`reconciler migrate`, `status` and `events`: output formats, filters and exit codes."""

from __future__ import annotations

import argparse
import json
import threading
import time
from datetime import timedelta

import pytest

from reconciler.cli import events, migrate, status
from reconciler.model import Phase
from reconciler.store import Store
from reconciler.store.migrate import shipped
from tests.store.conftest import make_spec, walk

SECRET = "pa55-word"


def _cli(*argv: str) -> int:
    parser = argparse.ArgumentParser(prog="reconciler")
    sub = parser.add_subparsers(dest="command", required=True)
    for module in (migrate, status, events):
        module.register(sub)
    args = parser.parse_args(argv)
    code: int = args.handler(args)
    return code


@pytest.fixture
def recorded(pg_url: str) -> str:
    """A database with two federations, one with a completed round and an artifact."""
    assert _cli("migrate", "--database-url", pg_url) == 0
    with Store.connect(pg_url) as store:
        key = store.create(make_spec("digits", rounds={"total": 5})).key
        walk(store, key, Phase.STARTING, Phase.RUNNING)
        store.round_started(key, 1, 1)
        store.round_completed(key, 1, 1, {"accuracy": 0.912345, "loss": 0.3})
        store.artifact_recorded(
            key, 1, 1, uri="file:///ckpt/r1.npz", sha256="ab" * 32, size=9, format="npz"
        )
        store.create(make_spec("chat", tenant="beta"))
    return pg_url


@pytest.mark.pg
def test_migrate_is_idempotent(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    assert _cli("migrate", "--database-url", pg_url) == 0
    assert _cli("migrate", "--database-url", pg_url) == 0

    out, err = capsys.readouterr()
    shipped_count = len(shipped())
    assert out.splitlines() == [f"applied {shipped_count} migration(s)", "schema is up to date"]
    assert "using PostgreSQL at 127.0.0.1:5432/" in err


@pytest.mark.pg
def test_status_table_shows_round_metrics(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert _cli("status", "--database-url", recorded) == 0

    header, *rows = capsys.readouterr().out.splitlines()
    assert header.split() == [
        "TENANT",
        "NAME",
        "PHASE",
        "ROUND",
        "LAST",
        "METRICS",
        "AGE",
    ]
    assert rows[0].split()[:4] == ["acme", "digits", "Running", "1/5"]
    assert "accuracy=0.9123 loss=0.3" in rows[0] and "file://" not in rows[0]
    assert rows[1].split()[:4] == ["beta", "chat", "Pending", "0/3"]


@pytest.mark.pg
def test_status_json_for_one_federation(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    assert _cli("status", "acme/digits", "-o", "json", "--database-url", recorded) == 0

    row = json.loads(capsys.readouterr().out)
    assert row["phase"] == "Running" and row["round"] == {"current": 1, "total": 5}
    assert row["checkpoint"]["uri"] == "file:///ckpt/r1.npz"
    assert row["checkpoint"]["sha256"] == "ab" * 32
    assert row["lastMetrics"]["loss"] == 0.3


@pytest.mark.pg
def test_status_of_an_unknown_name_exits_1(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _cli("status", "nope", "--database-url", recorded) == 1
    assert "nope" in capsys.readouterr().err


@pytest.mark.pg
def test_events_json_lines_filtered_by_federation(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()

    assert _cli("events", "--federation", "chat", "-o", "json", "--database-url", recorded) == 0

    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [(e["type"], e["federation"]) for e in lines] == [("fl.federation.created", "beta/chat")]


@pytest.mark.pg
def test_events_text_lists_every_event(recorded: str, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    assert _cli("events", "--database-url", recorded) == 0

    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 7
    assert lines[4].split()[2:4] == ["fl.round.completed", "acme/digits"]


@pytest.mark.pg
def test_follow_prints_events_as_they_are_written(
    recorded: str, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    stop = threading.Event()
    returned: list[int] = []
    with Store.connect(recorded) as store:

        def follow() -> None:
            returned.append(
                events.stream(
                    store,
                    "digits",
                    after_id=0,
                    emit=events.format_text,
                    follow=True,
                    poll=0.05,
                    stop=stop,
                )
            )

        follower = threading.Thread(target=follow)
        follower.start()
        time.sleep(0.3)
        printed = ""
        try:
            walk(store, make_spec("digits").key, Phase.PAUSED)
            paused_event = store.events(federation="acme/digits")[-1]
            deadline = time.monotonic() + 5
            while "fl.federation.paused" not in printed and time.monotonic() < deadline:
                time.sleep(0.05)
                printed += capsys.readouterr().out
        finally:
            stop.set()
            follower.join(timeout=5)

    assert [line.split()[2] for line in printed.splitlines()][-1] == "fl.federation.paused"
    assert len(printed.splitlines()) == 7  # everything for acme/digits, nothing for beta/chat
    assert returned == [paused_event.id]


def test_unreachable_database_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    url = f"postgresql://bob:{SECRET}@127.0.0.1:9/fl"

    codes = [_cli(cmd, "--database-url", url) for cmd in ("migrate", "status", "events")]

    err = capsys.readouterr().err
    assert codes == [2, 2, 2]
    assert [line for line in err.splitlines() if not line.startswith("using ")] == [
        f"reconciler {cmd}: cannot reach PostgreSQL at 127.0.0.1:9/fl: connection failed:"
        ' connection to server at "127.0.0.1", port 9 failed: Connection refused'
        for cmd in ("migrate", "status", "events")
    ]
    assert SECRET not in err


@pytest.mark.parametrize(
    ("seconds", "shown"), [(5, "5s"), (61, "1m"), (7200, "2h"), (3 * 86400 + 5, "3d")]
)
def test_age_is_shown_like_kubectl(seconds: int, shown: str) -> None:
    assert status.format_age(timedelta(seconds=seconds)) == shown
