"""An unreachable or misconfigured database: clear messages naming host and port, never the
password, and the right error type for the caller's next step."""

from __future__ import annotations

import pytest

from reconciler.store import BadDatabaseUrl, LeaderLock, Store, StoreUnavailable
from reconciler.store.errors import describe_url, sanitize

SECRET = "s3cr3t-pw"
CLOSED_PORT_URL = f"postgresql://alice:{SECRET}@127.0.0.1:9/tl"


def test_unreachable_server_is_transient_and_names_host_and_port() -> None:
    with pytest.raises(StoreUnavailable) as raised:
        Store.connect(CLOSED_PORT_URL, timeout=2)

    message = str(raised.value)
    assert "127.0.0.1:9/tl" in message
    assert SECRET not in message


def test_leader_lock_on_unreachable_server_is_transient() -> None:
    with pytest.raises(StoreUnavailable) as raised:
        LeaderLock(CLOSED_PORT_URL).try_acquire()

    assert SECRET not in str(raised.value)


def test_unparseable_url_needs_a_person_and_hides_the_password() -> None:
    with pytest.raises(BadDatabaseUrl) as raised:
        Store.connect(f"postgres:/alice:{SECRET}@db:5432/tl")

    assert SECRET not in str(raised.value)


@pytest.mark.parametrize(
    "text",
    [
        f"connection to postgresql://alice:{SECRET}@db:5432/x failed",
        f"bad option host=db password={SECRET} dbname=x",
        f"bad option host=db password='{SECRET}' dbname=x",
    ],
)
def test_sanitize_removes_passwords_however_echoed(text: str) -> None:
    assert SECRET not in sanitize(text, f"host=db password={SECRET}")


@pytest.mark.parametrize(
    ("url", "described"),
    [
        (f"postgresql://alice:{SECRET}@db.example:6432/prod", "db.example:6432/prod"),
        ("postgresql://postgres@127.0.0.1/postgres", "127.0.0.1:5432/postgres"),
        ("postgresql://postgres:@/postgres?host=/tmp/pg", "socket /tmp/pg/postgres"),
    ],
)
def test_description_names_the_server_without_credentials(url: str, described: str) -> None:
    assert describe_url(url) == described
