"""The token that `POST /api/v1/reconcile` asks for (`reconciler reconcile` sends it).

From $THUNDERLINE_API_TOKEN, else a 0600 file in the state folder made once by the daemon;
the CLI on the same host, in the same folder, reads that file. Replicas share the variable.
Called by `daemon.assemble` (create) and `cli.reconcile` (read only).
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path

from reconciler.runtime.base import RuntimeFailure
from reconciler.settings import STATE_DIR

API_TOKEN_ENV = "THUNDERLINE_API_TOKEN"
TOKEN_FILE = "api.token"
MIN_TOKEN_CHARS = 16


class ApiTokenUnusable(RuntimeFailure):
    """No token where one was expected, or one too short to be safe (never quotes it).
    A RuntimeFailure like the progress key's problems, so the daemon stops with one line."""


def api_token(state_dir: Path = STATE_DIR, *, create: bool) -> bytes:
    """The token; with `create`, make the state folder's file when neither source has one."""
    named = os.environ.get(API_TOKEN_ENV, "").strip()
    path = state_dir / TOKEN_FILE
    if named:
        token, source = named, API_TOKEN_ENV
    else:
        if create and not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_urlsafe(32))
        try:
            token, source = path.read_text().strip(), str(path)
        except OSError as exc:
            raise ApiTokenUnusable(
                f"no API token: ${API_TOKEN_ENV} is unset and {path} cannot be read "
                f"({exc.strerror})"
            ) from None
    if len(token) < MIN_TOKEN_CHARS:
        raise ApiTokenUnusable(f"{source}: the token must be at least {MIN_TOKEN_CHARS} characters")
    return token.encode()
