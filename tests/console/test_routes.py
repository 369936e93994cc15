"""The console and its API over HTTP: a running daemon (real PostgreSQL, a real Git remote,
the in-memory Flower runtime) answering a real HTTP client; access off loopback on a real
server over a real store, its access set as a daemon bound off loopback sets it."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from reconciler.console import Access, Console, routes
from reconciler.serving import BackgroundServer, build_app
from reconciler.settings import HttpLimits
from reconciler.store import Store
from tests.console.conftest import labelled_spec
from tests.daemon.conftest import SPEC, SPEC_PATH, World, make_world, running

pytestmark = [pytest.mark.pg, pytest.mark.git]

XSS = '"><script>alert("pwned")</script>'
HOSTILE = SPEC.replace("team: vision", f"team: '{XSS}'")


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[World]:
    yield from running(make_world(tmp_path, pg_url, files={SPEC_PATH: HOSTILE}))


def get(world: World, path: str) -> httpx.Response:
    return httpx.get(world.daemon.http.url + path, timeout=10)


def test_the_list_the_federation_and_the_api_show_what_was_recorded(world: World) -> None:
    world.after_round_one()
    page = get(world, "/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "acme/</span>digits-fedavg" in page.text and "1/5" in page.text
    assert get(world, "/?phase=Completed").text.count('data-federation="') == 0

    detail = get(world, "/federations/acme/digits-fedavg")
    assert detail.status_code == 200
    assert detail.text.count('class="point"') == 2  # one round: a point on accuracy and loss
    assert "Ready" in detail.text and "fl.round.completed" in detail.text
    assert "paused: true" in detail.text  # the line to commit, never a button
    assert "<form" not in detail.text.split("<main", 1)[1]

    api = get(world, "/api/v1/federations?tenant=acme").json()
    assert api["total"] == 1 and api["items"][0]["currentRound"] == 1
    one = get(world, "/api/v1/federations/acme/digits-fedavg").json()
    assert [r["number"] for r in one["rounds"]] == [1]
    assert one["lineage"][0]["attempts"][0]["how"] == "start"
    assert one["runIds"] == world.run_ids()
    assert one["artifacts"][0]["sha256"] and one["artifacts"][0]["size"] > 0
    events = get(world, "/api/v1/federations/acme/digits-fedavg/events").json()["events"]
    assert events[0]["type"] in ("fl.aggregate.completed", "fl.round.completed")


def test_spec_content_is_escaped_everywhere(world: World) -> None:
    world.cycle()
    for path in ("/", "/federations/acme/digits-fedavg", "/plan"):
        text = get(world, path).text
        assert "<script>alert" not in text, path
    assert "&lt;script&gt;alert(&#34;pwned&#34;)&lt;/script&gt;" in get(world, "/").text
    api = get(world, "/api/v1/federations/acme/digits-fedavg").json()
    assert api["spec"]["metadata"]["labels"]["team"] == XSS  # JSON carries it as data
    assert "default-src 'self'" in get(world, "/").headers["content-security-policy"]


def test_the_plan_shows_invalid_specs_with_file_line_col(world: World) -> None:
    world.cycle()
    assert get(world, "/api/v1/plan").json()["summary"] == "no changes"
    world.push(
        {"specs/acme/broken.yaml": "metadata:\n  name: broken\nspec:\n  rounds: [\n"}, "typo"
    )
    world.cycle()
    plan = get(world, "/api/v1/plan").json()
    lines = plan["invalidFiles"] + [d for a in plan["actions"] for d in a["details"]]
    assert any(re.match(r"^specs/acme/broken\.yaml:\d+:\d+: ", line) for line in lines), plan
    assert "specs/acme/broken.yaml:" in get(world, "/plan").text


def test_bad_queries_and_unknown_federations_are_clear_errors(world: World) -> None:
    assert get(world, "/api/v1/federations?sort=nope").status_code == 400
    assert get(world, "/api/v1/federations?page=x").json()["error"]
    assert get(world, "/?phase=Sleeping").status_code == 400
    assert get(world, "/api/v1/federations/acme/nobody").status_code == 404
    assert get(world, "/federations/acme/nobody").status_code == 404
    assert get(world, "/api/v1/federations/acme/nobody/rounds").status_code == 404
    assert get(world, "/api/v1/federations/acme/nobody/events").status_code == 404
    assert get(world, "/compare?f=no-slash").status_code == 400
    spec = get(world, "/api/v1/openapi.json").json()
    assert {"/api/v1/federations", "/api/v1/plan", "/api/v1/events/stream"} <= spec["paths"].keys()


def test_compare_draws_a_curve_per_federation(world: World) -> None:
    world.push({"specs/acme/second.yaml": SPEC.replace("digits-fedavg", "second")}, "second")
    world.cycle()
    for run_id in world.run_ids():
        world.runtime.advance(run_id)
        world.runtime.advance(run_id)
    world.cycle()
    page = get(world, "/compare?f=acme/digits-fedavg&f=acme/second").text
    assert page.count('class="series"') == 4  # two metrics, two federations each
    assert page.count('class="point"') == 8


def test_the_event_stream_carries_a_new_round_within_a_second(world: World) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    seen: list[dict[str, Any]] = []
    opened = threading.Event()

    def listen() -> None:
        url = world.daemon.http.url + "/api/v1/events/stream"
        with httpx.stream("GET", url, timeout=20) as stream:
            opened.set()
            for line in stream.iter_lines():
                if line.startswith("data: "):
                    seen.append(json.loads(line[6:]) | {"at": time.monotonic()})
                    if seen[-1]["type"] == "fl.round.completed":
                        return

    reader = threading.Thread(target=listen, daemon=True)
    reader.start()
    assert opened.wait(10)
    time.sleep(0.3)  # the stream has read where the outbox ends
    recorded_at = time.monotonic()
    world.runtime.advance(run_id)
    reader.join(10)
    done = [e for e in seen if e["type"] == "fl.round.completed"]
    assert done and done[0]["federation"] == "acme/digits-fedavg"
    assert done[0]["at"] - recorded_at < 1.5


def test_the_stream_resumes_after_the_last_event_id(world: World) -> None:
    world.after_round_one()
    events = get(world, "/api/v1/federations/acme/digits-fedavg/events").json()["events"]
    oldest = events[-1]["id"]
    url = world.daemon.http.url + "/api/v1/events/stream"
    with httpx.stream("GET", url, headers={"Last-Event-ID": str(oldest)}, timeout=10) as s:
        ids = []
        for line in s.iter_lines():
            if line.startswith("id: ") and int(line[4:]) > oldest:
                ids.append(int(line[4:]))
            if len(ids) == len(events) - 1:
                break
    assert ids == sorted(e["id"] for e in events)[1:]


# --- off loopback -----------------------------------------------------------------------

TOKEN = "console-tok-9f2c"


def serve(store: Store, access: Access) -> Iterator[httpx.Client]:
    app = build_app(routes(Console(store, access)), limits=HttpLimits())
    server = BackgroundServer(app, host="127.0.0.1", port=0, limits=HttpLimits(), name="t")
    server.start()
    try:
        with httpx.Client(base_url=server.url, timeout=10) as client:
            yield client
    finally:
        server.stop()


@pytest.fixture
def guarded(store: Store) -> Iterator[httpx.Client]:
    store.create(labelled_spec("fed"))
    yield from serve(store, Access(TOKEN, open=False))


def test_off_loopback_every_read_needs_the_token(guarded: httpx.Client) -> None:
    denied = guarded.get("/api/v1/federations")
    assert denied.status_code == 401 and "Bearer" in denied.headers["www-authenticate"]
    page = guarded.get("/federations/acme/fed")
    assert page.status_code == 303 and page.headers["location"].startswith("/login")
    assert guarded.get("/api/v1/events/stream").status_code == 401
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    assert guarded.get("/api/v1/federations", headers=bearer).json()["total"] == 1
    assert guarded.get("/static/console.css").status_code == 200  # no secret in an asset


def test_the_login_form_sets_a_cookie_and_never_shows_the_token(guarded: httpx.Client) -> None:
    wrong = guarded.post("/login", data={"token": "guess", "next": "/"})
    assert wrong.status_code == 401 and "not the console" in wrong.text
    assert "Set-Cookie" not in wrong.headers
    ok = guarded.post("/login", data={"token": TOKEN, "next": "//evil.example/"})
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never an open redirect
    cookie = ok.headers["set-cookie"]
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = guarded.get("/")
    assert page.status_code == 200 and "acme/</span>fed" in page.text
    for path in ("/", "/federations/acme/fed", "/plan", "/login"):
        assert TOKEN not in guarded.get(path).text


@pytest.fixture
def closed(store: Store) -> Iterator[httpx.Client]:
    yield from serve(store, Access(None, open=False))


def test_without_a_token_the_console_stays_closed_off_loopback(closed: httpx.Client) -> None:
    client = closed
    assert (
        client.get("/api/v1/federations", headers={"Authorization": "Bearer x"}).status_code == 401
    )
    assert client.post("/login", data={"token": ""}).status_code == 401


def test_the_tail_of_a_runs_log_escaped_and_only_of_its_own_runs(world: World) -> None:
    run_id = world.after_round_one()
    world.runtime.runs[run_id].log.extend(["INFO : round 1 done", "<img src=x onerror=alert(1)>"])
    page = get(world, "/federations/acme/digits-fedavg/logs")
    assert page.status_code == 200 and "INFO : round 1 done" in page.text
    assert "<img src=x" not in page.text and "&lt;img src=x" in page.text
    tail = get(world, "/api/v1/federations/acme/digits-fedavg/logs").json()
    assert (tail["runId"], tail["runs"], tail["lines"][-1]) == (
        run_id,
        [run_id],
        "<img src=x onerror=alert(1)>",
    )
    assert (
        get(world, f"/api/v1/federations/acme/digits-fedavg/logs?run={run_id + 1}").status_code
        == 400
    )
    assert get(world, "/api/v1/federations/acme/nobody/logs").status_code == 404
    world.runtime.unavailable = True
    down = get(world, "/api/v1/federations/acme/digits-fedavg/logs").json()
    assert down["lines"] == [] and "Flower did not answer" in down["note"]


# --- behind a reverse proxy -------------------------------------------------------------

VOUCHED = {"X-Forwarded-User": "ada@example.org"}


@pytest.fixture
def proxied(store: Store) -> Iterator[httpx.Client]:
    """Off loopback behind a proxy on loopback: the test client is the trusted proxy."""
    store.create(labelled_spec("fed"))
    yield from serve(store, Access.for_host("0.0.0.0", TOKEN, ["127.0.0.0/8"]))


def test_a_trusted_proxys_identity_header_lets_its_user_in(proxied: httpx.Client) -> None:
    assert proxied.get("/api/v1/federations", headers=VOUCHED).json()["total"] == 1
    page = proxied.get("/federations/acme/fed", headers=VOUCHED)
    assert page.status_code == 200 and "fed" in page.text
    # The proxy's address alone is no pass: a request it forwards without a user is not in.
    assert proxied.get("/api/v1/federations").status_code == 401
    blank = proxied.get("/api/v1/federations", headers={"X-Forwarded-User": ""})
    assert blank.status_code == 401
    other = proxied.get("/api/v1/federations", headers={"X-Remote-User": "ada"})
    assert other.status_code == 401  # only the configured header counts


@pytest.fixture
def proxy_elsewhere(store: Store) -> Iterator[httpx.Client]:
    """The trusted proxy is on 10.0.0.0/8; the test client (127.0.0.1) is not it."""
    store.create(labelled_spec("fed"))
    yield from serve(store, Access.for_host("0.0.0.0", TOKEN, ["10.0.0.0/8"]))


def test_an_identity_header_from_an_untrusted_peer_is_ignored(
    proxy_elsewhere: httpx.Client,
) -> None:
    # Claiming to come through the proxy does not help: the peer is the socket's.
    spoofed = {**VOUCHED, "X-Forwarded-For": "10.0.0.5", "X-Real-IP": "10.0.0.5"}
    denied = proxy_elsewhere.get("/api/v1/federations", headers=spoofed)
    assert denied.status_code == 401
    assert proxy_elsewhere.get("/", headers=spoofed).status_code == 303
    assert proxy_elsewhere.get("/api/v1/events/stream", headers=spoofed).status_code == 401
    bearer = {**spoofed, "Authorization": f"Bearer {TOKEN}"}
    assert proxy_elsewhere.get("/api/v1/federations", headers=bearer).status_code == 200
