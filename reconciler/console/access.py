"""Who may read the console: anyone on loopback, else the holder of the console token.

A daemon bound to a loopback address serves the console to its own machine without a login.
Bound anywhere else it asks for the token (`--console-token`, $THUNDERLINE_CONSOLE_TOKEN)
as `Authorization: Bearer TOKEN` (the API, the CLI) or the cookie the login form sets (a
browser); without a configured token the console is closed off loopback. The token is
compared in constant time and never written into a page, a log line or an error.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass

COOKIE = "thunderline_console"
TOKEN_ENV = "THUNDERLINE_CONSOLE_TOKEN"


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Access:
    token: str | None  # None: no token configured
    open: bool  # bound to loopback: no token asked

    @classmethod
    def for_host(cls, host: str, token: str | None) -> Access:
        return cls(token or None, is_loopback(host))

    def allows(self, headers: Mapping[str, str], cookies: Mapping[str, str]) -> bool:
        if self.open:
            return True
        if self.token is None:
            return False
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            presented = cookies.get(COOKIE, "")
        return self.matches(presented.strip())

    def matches(self, presented: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            presented.encode("utf-8"), self.token.encode("utf-8")
        )
