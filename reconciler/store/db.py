"""The connection pool and transactions every store module builds on.

`Database` owns a psycopg_pool.ConnectionPool; the repository mixins (`federations`,
`progress`, `outbox`) run their SQL through `_tx()` (one transaction) or `_read()` (one
autocommit connection), both of which translate psycopg errors into `store.errors`.
`Store` (in `store.store`) is the class callers use.

The pool has a fixed size and is full when `connect` returns: a pool that grew on demand
opened its extra connections whenever two threads (the cycle, progress reports, the
notifier) first met, which under load could be a minute or more after a start, and closed
them again after ten idle minutes, so a daemon's new connections came and went with its
load. A fixed pool opens every connection at start and afterwards only replaces one that
died (or, once an hour, one past psycopg_pool's `max_lifetime`).
"""

from __future__ import annotations

import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg_pool import ConnectionPool

from reconciler.store.errors import translate
from reconciler.store.migrate import apply_migrations

# libpq settings for every connection: fail fast when the server is away, and notice a dead
# peer within ~20 s instead of the kernel's default two hours.
CONNECT_KWARGS: dict[str, Any] = {
    "autocommit": True,
    "connect_timeout": 5,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 2,
    "application_name": "thunderline-reconciler",
}
# The one connection `connect` opens outside the pool, named apart so an operator reading
# pg_stat_activity or the server log can tell it from the pool's (and from the leader lock's).
CHECK_APPLICATION_NAME = "thunderline-reconciler-check"
POOL_SIZE = 4

Cursor = psycopg.Cursor[tuple[Any, ...]]


# When each pooled connection was last given back; a connection used moments ago is alive.
_returned: weakref.WeakKeyDictionary[psycopg.Connection[Any], float] = weakref.WeakKeyDictionary()
IDLE_CHECK_AFTER = 2.0  # seconds


def _mark_returned(conn: psycopg.Connection[Any]) -> None:
    _returned[conn] = time.monotonic()


def _check_if_idle(conn: psycopg.Connection[Any]) -> None:
    if time.monotonic() - _returned.get(conn, 0.0) > IDLE_CHECK_AFTER:
        ConnectionPool.check_connection(conn)


class Database:
    """A pool of connections to one PostgreSQL database."""

    def __init__(self, pool: ConnectionPool, url: str) -> None:
        self._pool = pool
        self.url = url

    @classmethod
    def connect(
        cls,
        url: str,
        *,
        min_size: int = POOL_SIZE,
        max_size: int | None = None,
        timeout: float = 5.0,
        application_name: str | None = None,
    ) -> Self:
        """Open a pool; raise `StoreUnavailable` (naming host and port) if nobody answers.

        The pool holds `min_size` connections from the start; `max_size` (default: the same,
        a fixed pool) lets it grow beyond. `timeout` (seconds) bounds the opening of the
        pool and every later wait for a free connection. `application_name` names the
        pool's sessions on the server (default `thunderline-reconciler`).
        """
        kwargs = dict(CONNECT_KWARGS)
        if application_name is not None:
            kwargs["application_name"] = application_name
        with translate(url):
            # One direct connection first: its error says why (refused, auth, unknown host),
            # where the pool would only report a timeout.
            check = {**kwargs, "application_name": CHECK_APPLICATION_NAME}
            psycopg.connect(url, **check).close()
            pool: ConnectionPool = ConnectionPool(
                url,
                kwargs=kwargs,
                min_size=min_size,
                max_size=min_size if max_size is None else max_size,
                timeout=timeout,
                # An empty query on checkout of a connection that sat idle: after a server
                # restart or a killed backend the next call gets a fresh connection instead
                # of an error, while a busy cycle pays no extra round trip per statement.
                check=_check_if_idle,
                reset=_mark_returned,
                name="thunderline-store",
                open=True,
            )
            try:
                pool.wait(timeout)
            except BaseException:
                pool.close()
                raise
        return cls(pool, url)

    def close(self) -> None:
        self._pool.close()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def migrate(self) -> int:
        """Apply pending schema migrations; return how many. Safe to run from many processes."""
        with translate(self.url), self._pool.connection() as conn:
            return apply_migrations(conn)

    @contextmanager
    def _tx(self) -> Iterator[Cursor]:
        """A cursor inside one transaction: committed on success, rolled back on any error."""
        with (
            translate(self.url),
            self._pool.connection() as conn,
            conn.transaction(),
            conn.cursor() as cur,
        ):
            yield cur

    @contextmanager
    def _read(self) -> Iterator[Cursor]:
        """A cursor on an autocommit connection, for single-statement reads."""
        with translate(self.url), self._pool.connection() as conn, conn.cursor() as cur:
            yield cur
