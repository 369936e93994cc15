"""`reconciler wait` and `status --watch` against a real PostgreSQL while phases change."""

from __future__ import annotations

import json
import threading
import time

import pytest

from reconciler.cli import status
from reconciler.cli.wait import EXIT_TIMEOUT, duration, wanted_phases
from reconciler.model import FederationKey, Phase
from reconciler.store import Store
from tests.cli.conftest import cli, record_sample
from tests.store.conftest import walk

pytestmark = pytest.mark.pg

DIGITS = FederationKey("acme", "digits")


@pytest.fixture
def sample(pg_url: str) -> str:
    record_sample(pg_url)
    return pg_url


def _later(seconds: float, action: object) -> threading.Timer:
    timer = threading.Timer(seconds, action)  # type: ignore[arg-type]
    timer.start()
    return timer


def test_wait_returns_0_once_the_phase_is_reached(
    sample: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.connect(sample) as store:
        timer = _later(0.5, lambda: walk(store, DIGITS, Phase.COMPLETED))
        began = time.monotonic()
        try:
            code = cli(
                "wait",
                "digits",
                "--for",
                "phase=Completed",
                "--timeout",
                "30s",
                "--poll",
                "0.05",
                "--database-url",
                sample,
            )
        finally:
            timer.cancel()

    assert code == 0
    assert 0.4 < time.monotonic() - began < 10
    assert capsys.readouterr().out == "acme/digits: Completed\n"


def test_wait_returns_1_when_the_federation_ends_otherwise(
    sample: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.connect(sample) as store:
        walk(store, DIGITS, Phase.FAILED)

    code = cli("wait", "acme/digits", "--for", "phase=Completed", "--database-url", sample)

    assert code == 1
    assert "acme/digits ended Failed" in capsys.readouterr().err


def test_wait_returns_3_on_timeout(sample: str, capsys: pytest.CaptureFixture[str]) -> None:
    began = time.monotonic()

    code = cli(
        "wait",
        "digits",
        "--for",
        "phase=Completed,Stopped",
        "--timeout",
        "0.3",
        "--poll",
        "0.05",
        "--database-url",
        sample,
    )

    assert code == EXIT_TIMEOUT
    assert time.monotonic() - began < 5
    assert "timed out: acme/digits is Running, not Completed/Stopped" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("condition", "message"),
    [("Completed", "--for must be phase=PHASE"), ("phase=Done", "unknown phase 'Done'")],
)
def test_a_bad_condition_is_a_usage_error(
    condition: str, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert (
        cli("wait", "digits", "--for", condition, "--database-url", "postgresql://x@127.0.0.1:9/x")
        == 2
    )
    assert message in capsys.readouterr().err


def test_durations_and_phases_parse() -> None:
    assert [duration(t) for t in ("90", "90s", "5m", "1h")] == [90, 90, 300, 3600]
    assert wanted_phases("phase=completed, Failed") == {Phase.COMPLETED, Phase.FAILED}


def test_watch_prints_again_when_the_federation_changes(
    sample: str, capsys: pytest.CaptureFixture[str]
) -> None:
    stop = threading.Event()
    with Store.connect(sample) as store:

        def show() -> str:
            shown = status.render(store, "acme/digits", "json", stream=True)
            if '"phase": "Paused"' in shown:
                stop.set()  # after this look: it is printed, then the watch ends
            return shown

        pause = _later(0.3, lambda: walk(store, DIGITS, Phase.PAUSED))
        bound = _later(20, stop.set)
        try:
            status.watch(show, streaming=True, interval=0.05, stop=stop)
        finally:
            pause.cancel()
            bound.cancel()

    phases = [json.loads(line)["phase"] for line in capsys.readouterr().out.splitlines()]
    assert phases == ["Running", "Paused"]


def test_watch_ignores_rows_only_growing_older(capsys: pytest.CaptureFixture[str]) -> None:
    tables = iter(
        [
            "TENANT  NAME  PHASE    AGE\nacme    a     Running  5s",
            "TENANT  NAME  PHASE    AGE\nacme    a     Running  7s",
            "TENANT  NAME  PHASE    AGE\nacme    a     Paused   9s",
        ]
    )
    stop = threading.Event()

    def show() -> str:
        table = next(tables, None)
        if table is None:
            stop.set()
            return "TENANT  NAME  PHASE    AGE\nacme    a     Paused   9s"
        return table

    status.watch(show, streaming=False, interval=0, stop=stop)

    assert capsys.readouterr().out.count("acme") == 2  # the 5s and the Paused tables
