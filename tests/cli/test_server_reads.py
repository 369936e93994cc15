"""Read commands with `--server URL`: the daemon's API instead of the database, printed the
same. A running daemon (real PostgreSQL, Git and HTTP; the in-memory Flower runtime), and a
real console server off loopback that asks for the token."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from reconciler.cli import main
from reconciler.cli.remote import SERVER_ENV, TOKEN_ENV
from reconciler.console import Access
from reconciler.store import Store
from tests.console.conftest import labelled_spec
from tests.console.test_routes import serve
from tests.daemon.conftest import SPEC, SPEC_PATH, World, make_world, running

pytestmark = [pytest.mark.pg, pytest.mark.git]

TOKEN = "server-read-tok-51d0"
BROKEN = "specs/acme/broken.yaml"
AGES = re.compile(r"(?m)  \d+[smhd]$")  # two reads a second apart may age a row


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[World]:
    files = {SPEC_PATH: SPEC, BROKEN: SPEC.replace("digits-fedavg", "broken") + "  bogus: 1\n"}
    world = make_world(tmp_path, pg_url, files=files)
    world.after_round_one()  # events of a start, a run and a round to print
    yield from running(world)


def _printed(argv: list[str], capsys: pytest.CaptureFixture[str]) -> str:
    assert main(argv) == 0, capsys.readouterr().err
    return capsys.readouterr().out


@pytest.mark.parametrize("fmt", ["text", "json", "yaml"])
def test_events_via_the_api_print_what_the_database_prints(
    world: World, pg_url: str, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    for narrowing in ([], ["--federation", "digits-fedavg"], ["--after", "2"]):
        argv = ["events", "-o", fmt, *narrowing]
        via_db = _printed([*argv, "--database-url", pg_url], capsys)
        via_api = _printed([*argv, "--server", world.daemon.http.url], capsys)
        assert via_api == via_db and via_db.count("\n") >= 2


@pytest.mark.parametrize("fmt", ["text", "wide", "json", "yaml"])
def test_status_via_the_api_prints_what_the_database_prints(
    world: World, pg_url: str, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    argv = ["status", "-o", fmt]
    via_db = _printed([*argv, "--database-url", pg_url], capsys)
    via_api = _printed([*argv, "--server", world.daemon.http.url], capsys)
    assert AGES.sub("", via_api) == AGES.sub("", via_db)
    assert "digits-fedavg" in via_db and "broken" in via_db  # a federation and an invalid spec


def test_status_name_over_the_api_is_refused_clearly(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["status", "digits-fedavg", "--server", world.daemon.http.url]) == 2
    assert "not served over --server" in capsys.readouterr().err


def test_the_server_can_come_from_the_environment(
    world: World, pg_url: str, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    via_db = _printed(["events", "--database-url", pg_url], capsys)
    monkeypatch.setenv(SERVER_ENV, world.daemon.http.url)
    # A database that does not exist: only the API can answer.
    bogus = "postgresql://postgres@127.0.0.1:5432/no_such_database_here"
    assert _printed(["events", "--database-url", bogus], capsys) == via_db


@pytest.fixture
def guarded(pg_url: str) -> Iterator[httpx.Client]:
    with Store.connect(pg_url) as store:
        store.migrate()
        store.create(labelled_spec("fed"))
        yield from serve(store, Access(TOKEN, open=False))


def test_off_loopback_the_token_is_sent_as_a_bearer_and_never_shown(
    guarded: httpx.Client,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    url = str(guarded.base_url)
    assert main(["events", "--server", url, "--token", "not-it"]) == 2
    err = capsys.readouterr().err
    assert "401" in err and "not-it" not in err
    monkeypatch.setenv(TOKEN_ENV, TOKEN)
    assert "fl.federation.created      acme/fed" in _printed(["events", "--server", url], capsys)


def test_the_token_is_never_sent_in_plaintext_off_loopback(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code = main(["events", "--server", "http://192.0.2.1:8080", "--token", TOKEN])
    err = capsys.readouterr().err
    assert code == 2 and "plaintext" in err and TOKEN not in err
