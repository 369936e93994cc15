"""The pool heals itself: after the server ends the store's sessions, the next call works.

Connections are checked on checkout once they sat idle for `IDLE_CHECK_AFTER` seconds (a
busy cycle pays no extra round trip); a server restart takes longer than that.
"""

from __future__ import annotations

import time

import psycopg
import pytest

from reconciler.store import Store
from reconciler.store.db import IDLE_CHECK_AFTER
from tests.store.conftest import make_spec

pytestmark = pytest.mark.pg


def test_calls_succeed_after_the_servers_sessions_are_terminated(pg_url: str) -> None:
    with Store.connect(pg_url, min_size=2, max_size=2) as store:
        store.migrate()
        fed = store.create(make_spec())
        with psycopg.connect(pg_url, autocommit=True) as admin:
            killed = admin.execute(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
            ).fetchone()

        assert killed is not None and killed[0] >= 1
        time.sleep(IDLE_CHECK_AFTER + 0.1)
        assert store.load_recorded() == {fed.key: fed}
        assert store.get(fed.key) == fed
