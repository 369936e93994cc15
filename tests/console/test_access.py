"""Access decisions without a server: the proxy's address forms and the header's name."""

from __future__ import annotations

import re

import pytest

from reconciler.console import Access


def test_the_configured_identity_header_is_the_only_one_believed() -> None:
    access = Access.for_host("0.0.0.0", None, ["192.0.2.7"], "X-Auth-Request-User")

    assert access.identity({"x-auth-request-user": "ada"}, "192.0.2.7") == "ada"
    assert access.identity({"x-forwarded-user": "ada"}, "192.0.2.7") is None
    assert access.allows({"x-auth-request-user": "ada"}, {}, "192.0.2.7")
    assert not access.allows({"x-auth-request-user": "ada"}, {}, "192.0.2.8")
    assert not access.allows({"x-auth-request-user": "ada"}, {}, None)  # no peer known


def test_a_proxy_reached_over_ipv6_or_as_an_ipv4_mapped_address_is_the_same_proxy() -> None:
    access = Access.for_host("::", None, ["10.1.0.0/16", "fd00::/8"])
    vouched = {"x-forwarded-user": "ada"}

    assert access.allows(vouched, {}, "::ffff:10.1.2.3")
    assert access.allows(vouched, {}, "fd00::1")
    assert not access.allows(vouched, {}, "fe80::1")
    assert not access.allows(vouched, {}, "not-an-address")


def test_a_bad_proxy_network_is_refused_when_configured() -> None:
    with pytest.raises(ValueError, match=re.escape("10.0.0.300")):
        Access.for_host("0.0.0.0", None, ["10.0.0.300/8"])
