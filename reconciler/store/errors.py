"""The store's error types, and the one place psycopg's exceptions are translated into them.

Every store module wraps its database work in `translate(url)`; nothing above `store` sees a
psycopg exception. Each type says what the caller should do next:

- `StoreUnavailable`: transient (server down, connection lost, pool exhausted): retry with backoff.
- `ConflictError`: someone else wrote first (stale version, duplicate record): reload, re-plan.
- `NotFound`: the federation or run is not recorded.
- `SchemaMissing`: the database has no (or an older) reconciler schema: run `reconciler migrate`.
- `BadDatabaseUrl`: the URL cannot be parsed: needs a person.
- `StoreError`: anything else from the database; counts as transient.

Messages name host, port and database and never the password: libpq may echo the whole
connection string (with its password) in its own messages, so every message is sanitized.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import psycopg
import psycopg.errors
import psycopg_pool
from psycopg.conninfo import conninfo_to_dict


class StoreError(Exception):
    """An unexpected database error. Unknown errors count as transient: retry with backoff."""


class StoreUnavailable(StoreError):
    """The database cannot be reached right now. Transient: retry with backoff."""


class ConflictError(StoreError):
    """A newer write got there first (stale version or duplicate). Reload and re-plan."""


class NotFound(StoreError):
    """The federation, run or record asked for is not in the store."""


class SchemaMissing(StoreError):
    """The database lacks the reconciler's tables. Needs `reconciler migrate`."""


class BadDatabaseUrl(StoreError):
    """The database URL cannot be parsed. Needs a person to fix the configuration."""


_USERINFO = re.compile(r"(://[^:/@\s]*):[^@\s]*@")
_PASSWORD_KV = re.compile(r"(password\s*=\s*)('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


def describe_url(url: str) -> str:
    """`host:port/dbname` for messages: never the user's password."""
    try:
        params = conninfo_to_dict(url)
    except psycopg.Error:
        return "(unparseable database URL)"
    host = str(params.get("host") or params.get("hostaddr") or "localhost")
    port = str(params.get("port") or "5432")
    where = f"socket {host}" if host.startswith("/") else f"{host}:{port}"
    return f"{where}/{params.get('dbname') or params.get('user') or 'postgres'}"


def sanitize(text: str, url: str) -> str:
    """Remove the password from `text`, however libpq chose to echo it."""
    try:
        password = str(conninfo_to_dict(url).get("password") or "")
    except psycopg.Error:
        password = ""
    text = _PASSWORD_KV.sub(r"\1***", _USERINFO.sub(r"\1:***@", text))
    if password:
        text = text.replace(password, "***")
    return text.replace(url, "(database URL)")


def _first_line(exc: BaseException, url: str) -> str:
    lines = sanitize(str(exc), url).strip().splitlines()
    return lines[0].strip() if lines else type(exc).__name__


@contextmanager
def translate(url: str) -> Iterator[None]:
    """Turn psycopg and pool exceptions raised inside into this module's error types."""
    try:
        yield
    except (psycopg.errors.UndefinedTable, psycopg.errors.UndefinedColumn) as exc:
        raise SchemaMissing(
            f"PostgreSQL at {describe_url(url)} has no up-to-date reconciler schema "
            f"({_first_line(exc, url)}); run `reconciler migrate`"
        ) from None
    except (psycopg.OperationalError, psycopg_pool.PoolTimeout, psycopg.InterfaceError) as exc:
        raise StoreUnavailable(
            f"cannot reach PostgreSQL at {describe_url(url)}: {_first_line(exc, url)}"
        ) from None
    except psycopg.ProgrammingError as exc:
        if isinstance(exc, psycopg.errors.SyntaxErrorOrAccessRuleViolation):
            raise StoreError(f"database error: {_first_line(exc, url)}") from None
        raise BadDatabaseUrl(f"invalid database URL: {_first_line(exc, url)}") from None
    except psycopg.Error as exc:
        raise StoreError(
            f"database error at {describe_url(url)}: {_first_line(exc, url)}"
        ) from None
