"""The daemon's HTTP API as the CLI reads it: `--server URL` instead of a database.

Like the argocd CLI and its API server: a read command given `--server` (or
$THUNDERLINE_SERVER) asks the daemon's `/api/v1/` and renders the answer with the same code
as the database's rows. The console token (`--token`, $THUNDERLINE_CONSOLE_TOKEN) goes as a
bearer header, and only to https or a loopback address, never through a proxy; the token is
never shown, not even in an error. `reconcile` posts through the same `call`.
"""

from __future__ import annotations

import argparse
import ipaddress
import json
import os
import urllib.error
import urllib.request
from datetime import datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import urlencode, urlsplit

if TYPE_CHECKING:
    from reconciler.store import Event, StatusRow
    from reconciler.store.findings import SpecFindingRow, StepErrorRow

SERVER_ENV = "THUNDERLINE_SERVER"
TOKEN_ENV = "THUNDERLINE_CONSOLE_TOKEN"  # = console.access.TOKEN_ENV


class ApiError(Exception):
    """The daemon could not be asked or refused (the commands' exit 2)."""


def add_server_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--server",
        metavar="URL",
        default=os.environ.get(SERVER_ENV) or None,
        help=f"read the daemon's API at URL instead of the database (default: ${SERVER_ENV})",
    )
    parser.add_argument(
        "--token",
        default=None,
        help=f"the console token for --server off loopback (default: ${TOKEN_ENV})",
    )


def call(
    url: str,
    path: str,
    *,
    token: str | None,
    method: str = "GET",
    params: dict[str, Any] | None = None,
    timeout: float = 10.0,
) -> tuple[int, bytes]:
    """(status, body) of a 2xx answer; ApiError for anything else (the token never shown)."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ApiError(f"not an http(s) URL: {url!r}")
    if token and parts.scheme == "http" and not is_loopback(parts.hostname):
        raise ApiError(f"refusing to send the API token in plaintext to {parts.hostname}")
    query = "?" + urlencode({k: v for k, v in (params or {}).items() if v is not None})
    request = urllib.request.Request(
        url.rstrip("/") + path + (query if len(query) > 1 else ""),
        method=method,
        headers={"Authorization": f"Bearer {token}"} if token else {},
    )
    try:
        # No proxy from the environment: the token goes to the daemon and nowhere else.
        opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
        with opener.open(request, timeout=timeout) as answer:
            return answer.status, answer.read()
    except urllib.error.HTTPError as exc:
        raise ApiError(f"the daemon at {url} answered {exc.code}: {_reason(exc)}") from None
    except (urllib.error.URLError, OSError) as exc:
        reason = getattr(exc, "reason", exc)
        raise ApiError(f"the daemon at {url} is unreachable: {reason}") from None


class RemoteEvents:
    """The outbox read over the API, as `Store.events` reads it from the database."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url, self.token = url, token or os.environ.get(TOKEN_ENV) or None

    def events(
        self, *, after_id: int = 0, federation: str | None = None, limit: int = 1000
    ) -> list[Event]:
        params = {"after": after_id, "federation": federation, "limit": limit}
        _, body = call(self.url, "/api/v1/events", token=self.token, params=params)
        try:
            return [event_from_json(e) for e in json.loads(body)["events"]]
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(f"the daemon at {self.url} answered what is not events: {exc}") from None


class RemoteStatus:
    """`reconciler status`'s rows read over the API (`GET /api/v1/status`)."""

    def __init__(self, url: str, token: str | None) -> None:
        self.url, self.token = url, token or os.environ.get(TOKEN_ENV) or None

    def status(
        self, name: str | None = None
    ) -> tuple[list[StatusRow], list[SpecFindingRow], list[StepErrorRow]]:
        from reconciler.store import StatusRow
        from reconciler.store.findings import SpecFindingRow, StepErrorRow

        _, body = call(self.url, "/api/v1/status", token=self.token, params={"name": name})
        try:
            data = json.loads(body)
            return (
                [StatusRow.from_json(r) for r in data["federations"]],
                [SpecFindingRow.from_json(s) for s in data["specs"]],
                [StepErrorRow.from_json(e) for e in data["errors"]],
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise ApiError(
                f"the daemon at {self.url} answered what is not a status: {exc}"
            ) from None


def event_from_json(data: dict[str, Any]) -> Event:
    """`Event.to_json` read back."""
    from reconciler.model import FederationKey
    from reconciler.store import Event

    tenant, _, name = (data["federation"] or "").partition("/")
    return Event(
        id=int(data["id"]),
        type=str(data["type"]),
        key=FederationKey(tenant, name) if name else None,
        generation=data["generation"],
        payload=dict(data["payload"]),
        time=datetime.fromisoformat(data["time"]),
    )


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def _reason(exc: urllib.error.HTTPError) -> str:
    try:
        return str(json.loads(exc.read()).get("error", exc.reason))
    except (ValueError, AttributeError):
        return str(exc.reason)
