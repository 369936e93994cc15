"""Server-level housekeeping: create a fresh database on a server we may administer.

Used by the demo (a fresh database in the embedded server on every run) and by tools that
set up throwaway environments. Never called by the daemon.
"""

from __future__ import annotations

import psycopg
from psycopg import sql
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from reconciler.store.errors import translate


def fresh_database(admin_url: str, name: str) -> str:
    """Drop `name` if it exists, create it empty, and return a URL that connects to it."""
    with translate(admin_url), psycopg.connect(admin_url, autocommit=True) as conn:
        ident = sql.Identifier(name)
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(ident))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(ident))
    return make_conninfo("", **{**conninfo_to_dict(admin_url), "dbname": name})
