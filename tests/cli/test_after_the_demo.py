"""After `make demo`: its data is read with `--demo` from the embedded server (started on
demand, after the demo stopped it), and a plain `status` says where the data is instead of
advising `reconciler migrate`."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli.common import DEMO_DATABASE, DEMO_LOGS, EMBEDDED_DATA_DIR
from reconciler.store.admin import fresh_database
from reconciler.store.embedded import start
from tests.cli.conftest import cli, record_sample

pytestmark = pytest.mark.pg


@pytest.fixture
def after_demo(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """A project folder whose embedded server holds a demo database, then stopped, as
    `make demo` leaves it. (Outside pytest's 0700 tmp tree: as root the server runs as
    another user.)"""
    project = Path(tempfile.mkdtemp(prefix="tl-demo-"))
    monkeypatch.chdir(project)
    server = start(EMBEDDED_DATA_DIR)
    try:
        record_sample(fresh_database(server.url, DEMO_DATABASE))
    finally:
        server.stop()
    yield project
    shutil.rmtree(project, ignore_errors=True)


def test_demo_data_is_read_with_demo(after_demo: Path, capsys: pytest.CaptureFixture[str]) -> None:
    capsys.readouterr()

    assert cli("status", "--demo") == 0
    listed = capsys.readouterr().out
    assert cli("describe", "digits", "--demo", "-o", "json") == 0

    assert listed.splitlines()[1].split()[:4] == ["acme", "digits", "Running", "2/5"]
    assert '"name": "digits"' in capsys.readouterr().out


def test_plain_status_points_at_the_demo_data(
    after_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert cli("status") == 2

    err = capsys.readouterr().err
    assert "holds no reconciler data yet" in err and "--demo" in err
    assert "would only create empty tables" in err


def test_logs_come_from_what_the_demo_saved(
    after_demo: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    DEMO_LOGS.mkdir(parents=True)
    (DEMO_LOGS / "202.log").write_text("\x1b[92mINFO \x1b[0m:      [ROUND 2]\n")

    assert cli("logs", "digits", "--demo") == 0
    assert capsys.readouterr().out == "INFO :      [ROUND 2]\n"  # no colour into a pipe
    assert cli("logs", "digits", "--demo", "--run", "101") == 1
    assert "no saved log for run 101" in capsys.readouterr().err
