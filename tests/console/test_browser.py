"""The console in a real browser: Playwright driving Debian's chromium (`.ci/run` installs
it) against a running daemon on real PostgreSQL and a real Git remote, with the in-memory
Flower runtime reporting rounds. Screenshots go to `.thunderline/test-output/console/`
(or $THUNDERLINE_TEST_OUTPUT/console)."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import expect, sync_playwright

from reconciler.console import Access
from reconciler.store import Store
from tests.conftest import missing_service
from tests.console.conftest import labelled_spec
from tests.console.test_routes import serve
from tests.daemon.conftest import SPEC, SPEC_PATH, World, make_world, running

pytestmark = [pytest.mark.browser, pytest.mark.pg, pytest.mark.git]

CHROMIUM = os.environ.get("THUNDERLINE_CHROMIUM", "/usr/bin/chromium")
SECOND = "specs/acme/digits-second.yaml"
WAIT_MS = 10_000


def screenshots() -> Path:
    root = Path(os.environ.get("THUNDERLINE_TEST_OUTPUT", ".thunderline/test-output"))
    folder = root / "console"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


@pytest.fixture(scope="module")
def browser() -> Iterator[object]:
    if shutil.which(CHROMIUM) is None:
        missing_service(f"chromium not found at {CHROMIUM}")
    with sync_playwright() as p:
        launched = p.chromium.launch(executable_path=CHROMIUM, headless=True)
        try:
            yield launched
        finally:
            launched.close()


@pytest.fixture
def page(browser):  # type: ignore[no-untyped-def]
    context = browser.new_context(viewport={"width": 1280, "height": 900})
    try:
        yield context.new_page()
    finally:
        context.close()


@pytest.fixture
def world(tmp_path: Path, pg_url: str) -> Iterator[World]:
    files = {SPEC_PATH: SPEC, SECOND: SPEC.replace("digits-fedavg", "digits-second")}
    yield from running(make_world(tmp_path, pg_url, files=files))


def test_watch_federations_live_in_the_browser(world: World, page) -> None:  # type: ignore[no-untyped-def]
    world.cycle()
    runs = world.run_ids()
    for run_id in runs:
        world.runtime.advance(run_id)
    world.cycle()
    base = world.daemon.http.url
    shots = screenshots()

    page.goto(base + "/")
    rows = page.locator("tr[data-federation]")
    assert rows.count() == 2
    assert page.locator(".phase-running").count() == 2
    page.screenshot(path=str(shots / "list.png"), full_page=True)

    page.fill("input[name=q]", "second")
    page.click("button[type=submit]")
    page.wait_for_url("**/?*q=second*")
    assert page.locator("tr[data-federation]").count() == 1

    page.click("text=digits-second")
    page.wait_for_selector("#phase")
    accuracy = page.locator("figure.chart").filter(has_text="accuracy")
    assert accuracy.locator("circle.point").count() == 1  # one point per recorded round
    assert page.locator("#round").inner_text() == "1/5"

    page.evaluate("window.notReloaded = true")
    (second,) = [r for r in runs if world.runtime.runs[r].request.key.name == "digits-second"]
    world.runtime.advance(second)  # a round recorded while the page is open
    expect(page.locator("#round")).to_have_text("2/5", timeout=WAIT_MS)
    assert page.evaluate("window.notReloaded") is True
    assert accuracy.locator("circle.point").count() == 2
    page.screenshot(path=str(shots / "federation.png"), full_page=True)

    page.goto(base + "/compare?f=acme/digits-fedavg&f=acme/digits-second")
    chart = page.locator("figure.chart").filter(has_text="accuracy")
    assert chart.locator("g.series").count() == 2
    assert chart.locator(".legend li").count() == 2
    page.screenshot(path=str(shots / "compare.png"), full_page=True)


def test_a_phase_change_appears_on_the_open_list(world: World, page) -> None:  # type: ignore[no-untyped-def]
    world.cycle()
    page.goto(world.daemon.http.url + "/")
    expect(page.locator(".phase-starting")).to_have_count(2)
    world.runtime.advance(world.run_ids()[0])  # its first round: the run is Running
    expect(page.locator(".phase-running")).to_have_count(1, timeout=WAIT_MS)
    expect(page.locator(".phase-starting")).to_have_count(1)


def test_the_first_page_of_ten_thousand_federations(store: Store, page) -> None:  # type: ignore[no-untyped-def]
    specs = [labelled_spec(f"fed-{i:05d}", tenant=f"t{i % 20:02d}") for i in range(10_000)]
    store.create_many(specs)
    for client in serve(store, Access.for_host("127.0.0.1", None)):
        page.goto(str(client.base_url) + "/")
        assert page.locator("tr[data-federation]").count() == 50
        assert "of 10000" in page.locator(".pager").inner_text()
        page.click("text=last »")
        page.wait_for_url("**page=200*")
        assert (
            page.locator("tr[data-federation]").first.get_attribute("data-federation")
            == "t19/fed-09019"
        )
        page.screenshot(path=str(screenshots() / "list-10000.png"))
