"""Who may read the console: anyone on loopback, else the holder of the console token, or
whoever a trusted reverse proxy vouches for.

A daemon bound to a loopback address serves the console to its own machine without a login.
Bound anywhere else it asks for the token (`--console-token`, $THUNDERLINE_CONSOLE_TOKEN)
as `Authorization: Bearer TOKEN` (the API, the CLI) or the cookie the login form sets (a
browser); without a configured token the console is closed off loopback. The token is
compared in constant time and never written into a page, a log line or an error.

Behind an authenticating reverse proxy (oauth2-proxy and the like) the proxy's addresses are
configured (`--console-trusted-proxy CIDR`): a request whose socket peer is one of them and
that carries a non-empty identity header (`--console-identity-header`, `X-Forwarded-User`)
is let in. From any other peer the header is ignored, so a client cannot vouch for itself;
the peer is the socket's, never a forwarded-for header.
"""

from __future__ import annotations

import hmac
import ipaddress
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

COOKIE = "thunderline_console"
TOKEN_ENV = "THUNDERLINE_CONSOLE_TOKEN"
IDENTITY_HEADER = "X-Forwarded-User"

Network = ipaddress.IPv4Network | ipaddress.IPv6Network


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def network(text: str) -> Network:
    """A CIDR (or a bare address: one host); ValueError names what is wrong."""
    return ipaddress.ip_network(text.strip(), strict=False)


@dataclass(frozen=True)
class Access:
    token: str | None  # None: no token configured
    open: bool  # bound to loopback: no token asked
    proxies: tuple[Network, ...] = ()  # peers whose identity header is believed
    identity_header: str = IDENTITY_HEADER

    @classmethod
    def for_host(
        cls,
        host: str,
        token: str | None,
        proxies: Iterable[str] = (),
        identity_header: str = IDENTITY_HEADER,
    ) -> Access:
        nets = tuple(network(p) for p in proxies)
        return cls(token or None, is_loopback(host), nets, identity_header)

    def allows(
        self, headers: Mapping[str, str], cookies: Mapping[str, str], peer: str | None = None
    ) -> bool:
        """`headers` case-insensitive (Starlette's are); `peer` the socket's address."""
        if self.open or self.identity(headers, peer) is not None:
            return True
        if self.token is None:
            return False
        scheme, _, presented = headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            presented = cookies.get(COOKIE, "")
        return self.matches(presented.strip())

    def identity(self, headers: Mapping[str, str], peer: str | None) -> str | None:
        """The user a trusted proxy vouches for; None from any other peer or without one."""
        if peer is None or not self._trusted(peer):
            return None
        return headers.get(self.identity_header.lower(), "").strip() or None

    def matches(self, presented: str) -> bool:
        return self.token is not None and hmac.compare_digest(
            presented.encode("utf-8"), self.token.encode("utf-8")
        )

    def _trusted(self, peer: str) -> bool:
        try:
            address = ipaddress.ip_address(peer.strip("[]"))
        except ValueError:
            return False
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        return any(address in net for net in self.proxies)
