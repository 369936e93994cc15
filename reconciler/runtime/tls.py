"""How a client reaches a SuperLink: plaintext or TLS, the CA bundle it trusts, and what a
failed connection most likely means.

The CLI turns `--flower-ca-file` / `$THUNDERLINE_FLOWER_CA_FILE` / `--flower-insecure`
into a `Transport` with `choose_transport`; `FlowerRuntime` uses it to build its Control
API client and `explain` to word a failed connection. The default: TLS whenever a CA
bundle is given, plaintext only to a loopback address or when asked for, and TLS checked
against the default CAs (certifi) for any other address.
"""

from __future__ import annotations

import ssl
from dataclasses import dataclass
from pathlib import Path

from reconciler.runtime.base import RuntimeFailure

CA_FILE_ENV = "THUNDERLINE_FLOWER_CA_FILE"
LOOPBACK_HOSTS = frozenset({"127.0.0.1", "::1", "localhost"})
# OpenSSL's X509_V_ERR_HOSTNAME_MISMATCH and X509_V_ERR_IP_ADDRESS_MISMATCH: the
# certificate is trusted but names other hosts.
NAME_MISMATCH = frozenset({62, 64})


class TlsConfigError(RuntimeFailure):
    """The TLS options cannot work (CA file missing, unreadable or not PEM; contradictory
    flags): needs a person. The message names the file, never its content."""


@dataclass(frozen=True)
class Transport:
    """Plaintext (`insecure`), or TLS trusting `ca_file` (None: httpx's default CAs)."""

    insecure: bool
    ca_file: Path | None = None

    def describe(self) -> str:
        if self.insecure:
            return "plaintext"
        return f"TLS, CA file {self.ca_file}" if self.ca_file else "TLS, default CAs"

    def root_certificates(self) -> bytes | None:
        """The CA bundle's bytes, checked to hold at least one PEM certificate."""
        if self.insecure or self.ca_file is None:
            return None
        try:
            data = self.ca_file.read_bytes()
        except OSError as exc:
            raise TlsConfigError(f"Flower CA file {self.ca_file}: {exc.strerror}") from None
        try:
            ssl.create_default_context(cadata=data.decode("ascii"))
        except (UnicodeDecodeError, ssl.SSLError, ValueError):
            raise TlsConfigError(
                f"Flower CA file {self.ca_file} holds no PEM certificate"
            ) from None
        return data


def host_of(address: str) -> str:
    """The host part of "host:port", "[v6]:port" or a bare host."""
    if address.startswith("["):
        return address[1:].partition("]")[0]
    host, sep, port = address.rpartition(":")
    return host if sep and port.isdigit() and ":" not in host else address


def is_loopback(address: str) -> bool:
    host = host_of(address)
    return host in LOOPBACK_HOSTS or host.startswith("127.")


def choose_transport(address: str, *, ca_file: Path | None, insecure: bool) -> Transport:
    """TLS with `ca_file` when given; plaintext when asked for or to loopback; else TLS
    checked against the default CAs (a remote SuperLink is never spoken to in the clear
    unless someone said so)."""
    if insecure and ca_file is not None:
        raise TlsConfigError(
            f"--flower-insecure and a Flower CA file ({ca_file}) contradict each other"
        )
    if ca_file is not None:
        return Transport(insecure=False, ca_file=ca_file)
    return Transport(insecure=insecure or is_loopback(address))


def _chain(exc: BaseException) -> list[BaseException]:
    seen: list[BaseException] = []
    current: BaseException | None = exc
    while current is not None and current not in seen:
        seen.append(current)
        current = current.__cause__ or current.__context__
    return seen


def _verify_failure(error: ssl.SSLCertVerificationError, address: str, trust: str) -> str:
    if error.verify_code in NAME_MISMATCH:
        return f"its certificate does not name {host_of(address)!r} ({error.verify_message})"
    return f"its certificate is not trusted by {trust} ({error.verify_message})"


def explain(exc: BaseException, address: str, transport: Transport) -> str | None:
    """A sentence for a connection that failed because of TLS, or None when it did not."""
    trust = f"the CA file {transport.ca_file}" if transport.ca_file else "the default CAs"
    for error in _chain(exc):
        if isinstance(error, ssl.SSLCertVerificationError):
            why = _verify_failure(error, address, trust)
            return f"TLS handshake with the SuperLink at {address} failed: {why}"
        if isinstance(error, ssl.SSLError):
            return (
                f"TLS handshake with the SuperLink at {address} failed ({error.reason}); "
                "if it runs without TLS, connect with --flower-insecure"
            )
    return None


def plaintext_hint(transport: Transport) -> str:
    """What to add to an error of a plaintext connection that got no answer."""
    if not transport.insecure:
        return ""
    return "; if the SuperLink uses TLS, give its CA bundle with --flower-ca-file"
