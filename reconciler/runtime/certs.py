"""A throw-away certificate authority and server certificate for a SuperLink on loopback,
and SuperNode authentication keys.

`LocalFlower(tls=True)` calls `write_server_pki` to make the files its SuperLink serves and
its SuperNodes and driver trust; the flower tests call it to make a second, unrelated CA.
`LocalFlower(supernode_auth=True)` calls `write_node_key` for each SuperNode.
Real deployments bring their own certificates (an existing Secret or cert-manager,
docs/deploy.md). Private keys are written 0600 and never logged.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Loopback names a local SuperLink is reached by: the driver and SuperNodes dial
# 127.0.0.1, and Flower's SuperExec dials the SuperLink's bind address.
LOOPBACK_NAMES = ("127.0.0.1", "localhost")
VALIDITY = datetime.timedelta(days=30)


@dataclass(frozen=True)
class ServerPki:
    """Where the CA certificate, the server certificate and its private key were written."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _san(hosts: tuple[str, ...]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for host in hosts:
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            entries.append(x509.DNSName(host))
    return x509.SubjectAlternativeName(entries)


def _builder(
    subject: x509.Name, issuer: x509.Name, key: ec.EllipticCurvePrivateKey
) -> x509.CertificateBuilder:
    now = datetime.datetime.now(datetime.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(minutes=5))  # small clock skew
        .not_valid_after(now + VALIDITY)
    )


def make_ca(common_name: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(common_name), _name(common_name), key)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    return cert, key


def make_server_cert(
    ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey, hosts: tuple[str, ...]
) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    cert = (
        _builder(_name(hosts[0]), ca.subject, key)
        .add_extension(_san(hosts), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(ca_key, hashes.SHA256())
    )
    return cert, key


def pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)


def write_private(path: Path, data: bytes) -> None:
    """Write `data` to a file only its owner may read (replacing any older file)."""
    path.unlink(missing_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)


def write_node_key(path: Path) -> bytes:
    """A SuperNode's authentication key: the private half written to `path` (OpenSSH
    format, 0600: what `flower-supernode --auth-supernode-private-key` reads), the public
    half returned as PEM (what the Control API's RegisterNode takes). Flower 1.42 accepts
    NIST curves; P-384 is the one its documentation uses."""
    path.parent.mkdir(parents=True, exist_ok=True)
    key = ec.generate_private_key(ec.SECP384R1())
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.OpenSSH,
        serialization.NoEncryption(),
    )
    write_private(path, private)
    return key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def write_server_pki(folder: Path, hosts: tuple[str, ...] = LOOPBACK_NAMES) -> ServerPki:
    """A new CA and a server certificate for `hosts`, as PEM files in `folder`."""
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = make_ca("Thunderline local Flower CA")
    cert, key = make_server_cert(ca, ca_key, hosts)
    pki = ServerPki(folder / "ca.crt", folder / "tls.crt", folder / "tls.key")
    pki.ca_file.write_bytes(pem(ca))
    pki.cert_file.write_bytes(pem(cert))
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    write_private(pki.key_file, key_pem)
    return pki
