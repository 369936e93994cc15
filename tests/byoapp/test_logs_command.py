"""`reconciler logs NAME`: the errors it answers without a traceback."""

from __future__ import annotations

import pytest

from reconciler.cli import main
from reconciler.model import FederationKey, FederationSpec
from reconciler.runtime.local import free_port
from reconciler.store import Store

pytestmark = pytest.mark.pg

KEY = FederationKey("acme", "quickstart")


@pytest.fixture
def store_url(pg_url: str) -> str:
    with Store.connect(pg_url) as store:
        store.migrate()
        store.create(FederationSpec(KEY, "specs/acme/quickstart.yaml", {"spec": {}}))
    return pg_url


def logs(url: str, *args: str) -> int:
    superlink = f"127.0.0.1:{free_port()}"  # nothing listens there
    return main(["logs", *args, "--superlink", superlink, "--database-url", url])


@pytest.mark.parametrize(
    ("args", "code", "message"),
    [
        pytest.param(("nobody",), 1, "no federation named 'nobody' is recorded", id="unknown"),
        pytest.param(("quickstart",), 1, "acme/quickstart has no Flower run yet", id="no run"),
    ],
)
def test_nothing_to_show(
    store_url: str,
    capsys: pytest.CaptureFixture[str],
    args: tuple[str, ...],
    code: int,
    message: str,
) -> None:
    assert logs(store_url, *args) == code
    assert capsys.readouterr().err.strip() == f"reconciler logs: {message}"


def test_a_run_of_another_federation_is_refused(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.connect(store_url) as store:
        store.record_run(KEY, generation=1, attempt=1, run_id=11, status="running")
    assert logs(store_url, "acme/quickstart", "--run", "12") == 1
    assert "run 12 is not a run of acme/quickstart" in capsys.readouterr().err


def test_an_unreachable_superlink_is_one_line(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.connect(store_url) as store:
        store.record_run(KEY, generation=1, attempt=1, run_id=11, status="running")
    assert logs(store_url, "quickstart") == 2
    err = capsys.readouterr().err
    assert err.startswith("reconciler logs: ") and "unreachable" in err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1


def test_a_run_on_a_target_not_given_names_it(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with Store.connect(store_url) as store:
        store.record_run(KEY, generation=1, attempt=1, run_id=11, status="running", target="us")
    assert logs(store_url, "quickstart", "--flower-target", "eu=127.0.0.1:9,insecure") == 2
    err = capsys.readouterr().err.strip()
    assert err == (
        "reconciler logs: run 11 ran on Flower target 'us', which is not configured "
        "(configured: default, eu): give it with --flower-target NAME=HOST:PORT"
    )


def test_a_target_that_cannot_be_read_is_one_line(
    store_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert logs(store_url, "quickstart", "--flower-target", "us") == 2
    assert capsys.readouterr().err.strip() == (
        "reconciler logs: Flower target 'us': write name=HOST:PORT[,ca=FILE|,insecure]"
    )
