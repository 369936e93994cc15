"""Fixtures shared by every test tier.

`pg_url` gives each test its own freshly created PostgreSQL database on a real server
(default: postgres@127.0.0.1:5432, trust auth; override with THUNDERLINE_TEST_PG_ADMIN).
When no server answers, the test is skipped with the reason, except under CI=true,
where a missing service is a failure: CI must never skip silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

ADMIN_URL = os.environ.get(
    "THUNDERLINE_TEST_PG_ADMIN", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def missing_service(reason: str) -> None:
    """Skip locally, fail in CI."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"required service missing in CI: {reason}")
    pytest.skip(reason)


def _admin_connect():  # type: ignore[no-untyped-def]
    import psycopg

    try:
        return psycopg.connect(ADMIN_URL, autocommit=True, connect_timeout=3)
    except psycopg.OperationalError as exc:
        missing_service(f"PostgreSQL not reachable at {ADMIN_URL.split('@')[-1]}: {exc}")
        raise  # unreachable: missing_service always raises


def _url_for(db: str) -> str:
    base, _, _ = ADMIN_URL.rpartition("/")
    return f"{base}/{db}"


@contextmanager
def fresh_database() -> Iterator[str]:
    """The URL of a brand-new, empty database, dropped afterwards (for any fixture scope)."""
    db = f"tl_test_{uuid.uuid4().hex[:12]}"
    with _admin_connect() as admin:
        admin.execute(f'CREATE DATABASE "{db}"')
    try:
        yield _url_for(db)
    finally:
        with _admin_connect() as admin:
            admin.execute(f'DROP DATABASE IF EXISTS "{db}" WITH (FORCE)')


@pytest.fixture
def pg_url() -> Iterator[str]:
    """A brand-new, empty database; dropped after the test."""
    with fresh_database() as url:
        yield url
