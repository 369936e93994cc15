"""`reconciler reconcile` against a running daemon (real HTTP, PostgreSQL and Git; the
in-memory Flower runtime), and the endpoint's refusals."""

from __future__ import annotations

import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.daemon.apitoken import API_TOKEN_ENV
from reconciler.daemon.http import RECONCILE_PATH
from reconciler.store import Store
from reconciler.store.endpoints import HTTP, SUPERLINK
from tests.daemon.conftest import World, make_world, running

pytestmark = [pytest.mark.pg, pytest.mark.git]

TOKEN = b"reconcile-test-token-0123456789"


@pytest.fixture
def world(tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[World]:
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN.decode())
    yield from running(make_world(tmp_path, pg_url, api_token=TOKEN))


def _cycles(world: World) -> int:
    last = world.store.last_cycle()
    return last.id if last else 0


def test_the_daemon_records_where_it_is(world: World) -> None:
    assert world.store.endpoint(HTTP) == world.daemon.http.url
    assert world.store.endpoint(SUPERLINK) == "127.0.0.1:9093"


def test_reconcile_runs_a_cycle_now_and_reports_it(
    world: World, pg_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    world.cycle()  # the start cycle is over: the next one is ours
    before = _cycles(world)

    assert main(["reconcile", "--timeout", "30s", "--database-url", pg_url]) == 0

    out = capsys.readouterr().out
    assert _cycles(world) > before
    assert out.startswith(f"cycle {before + 1} at ") and out.rstrip().endswith("no errors")


@pytest.mark.parametrize(
    ("header", "answer"),
    [({}, 401), ({"Authorization": "Bearer wrong-token-0123456789"}, 401)],
)
def test_without_the_token_nothing_happens(
    world: World, header: dict[str, str], answer: int
) -> None:
    world.cycle()
    before = _cycles(world)
    request = urllib.request.Request(
        world.daemon.http.url + RECONCILE_PATH, method="POST", headers=header
    )

    with pytest.raises(urllib.error.HTTPError) as refused:
        urllib.request.build_opener(urllib.request.ProxyHandler({})).open(request, timeout=10)

    assert refused.value.code == answer
    time.sleep(1.5)  # a cycle here takes ~0.1 s, and nothing else asks for one (interval 1 h)
    assert _cycles(world) == before


def test_a_wrong_token_is_one_line_and_exit_2(
    world: World, pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(API_TOKEN_ENV, "another-token-0123456789")

    assert main(["reconcile", "--database-url", pg_url]) == 2

    err = capsys.readouterr().err
    assert err == (
        f"reconciler reconcile: the daemon at {world.daemon.http.url} answered 401:"
        " a valid API token is required\n"
    )
    assert "another-token" not in err


def test_no_recorded_daemon(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN.decode())
    with Store.connect(pg_url) as store:
        store.migrate()

    assert main(["reconcile", "--database-url", pg_url]) == 2
    assert "no daemon has recorded its address" in capsys.readouterr().err


def test_the_token_never_travels_in_plaintext_off_the_host(
    pg_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv(API_TOKEN_ENV, TOKEN.decode())
    with Store.connect(pg_url) as store:
        store.migrate()

    code = main(["reconcile", "--url", "http://192.0.2.7:8080", "--database-url", pg_url])

    assert code == 2
    assert "refusing to send the API token in plaintext to 192.0.2.7" in capsys.readouterr().err
