"""Choosing plaintext or TLS for a SuperLink, and the errors a person reads when the CA
bundle or the handshake is wrong: real TLS handshakes against a loopback HTTPS server
(no Flower processes; the flower tier runs a real TLS SuperLink in test_flower_tls.py)."""

from __future__ import annotations

import http.server
import ssl
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest
from flower_harness import refusal

from reconciler.cli import main
from reconciler.cli.common import FLOWER_CA_ENV
from reconciler.runtime.certs import ServerPki, write_server_pki
from reconciler.runtime.flower import FlowerRuntime
from reconciler.runtime.tls import (
    CA_FILE_ENV,
    TlsConfigError,
    Transport,
    choose_transport,
    host_of,
)

pytestmark = pytest.mark.timeout(30)
CA = Path("/etc/flower/ca.crt")


@pytest.mark.parametrize(
    ("address", "ca_file", "insecure", "expected"),
    [
        ("127.0.0.1:8000", None, False, Transport(insecure=True)),
        ("localhost:8000", None, False, Transport(insecure=True)),
        ("[::1]:8000", None, False, Transport(insecure=True)),
        ("superlink.fl:8000", None, False, Transport(insecure=False)),
        ("10.0.0.5:8000", None, False, Transport(insecure=False)),
        ("superlink.fl:8000", None, True, Transport(insecure=True)),
        ("superlink.fl:8000", CA, False, Transport(insecure=False, ca_file=CA)),
        ("127.0.0.1:8000", CA, False, Transport(insecure=False, ca_file=CA)),
    ],
)
def test_tls_when_a_ca_is_given_plaintext_only_to_loopback_or_when_asked(
    address: str, ca_file: Path | None, insecure: bool, expected: Transport
) -> None:
    assert choose_transport(address, ca_file=ca_file, insecure=insecure) == expected


def test_insecure_and_a_ca_file_together_are_refused() -> None:
    with pytest.raises(TlsConfigError, match="contradict"):
        choose_transport("superlink.fl:8000", ca_file=CA, insecure=True)


@pytest.mark.parametrize(
    ("address", "host"),
    [("a.b:1", "a.b"), ("[fe80::1]:8000", "fe80::1"), ("::1", "::1"), ("host", "host")],
)
def test_host_of_reads_names_ipv4_and_ipv6(address: str, host: str) -> None:
    assert host_of(address) == host


def test_a_missing_ca_file_is_named_in_the_error(tmp_path: Path) -> None:
    missing = tmp_path / "nope.crt"

    with pytest.raises(TlsConfigError) as caught:
        FlowerRuntime("superlink.fl:8000", transport=Transport(insecure=False, ca_file=missing))

    assert str(caught.value) == f"Flower CA file {missing}: No such file or directory"


def test_a_ca_file_without_a_certificate_is_refused_without_showing_its_content(
    tmp_path: Path,
) -> None:
    pki = write_server_pki(tmp_path / "pki")  # the private key, passed by mistake

    with pytest.raises(TlsConfigError) as caught:
        Transport(insecure=False, ca_file=pki.key_file).root_certificates()

    assert str(caught.value) == f"Flower CA file {pki.key_file} holds no PEM certificate"
    assert "PRIVATE" not in str(caught.value)


def test_the_cli_names_the_environment_variable_the_runtime_reads() -> None:
    assert FLOWER_CA_ENV == CA_FILE_ENV == "THUNDERLINE_FLOWER_CA_FILE"


# --- real handshakes -------------------------------------------------------------------


class _Answer(http.server.BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.send_response(500)
        self.end_headers()

    def log_message(self, format: str, *args: object) -> None:
        pass


def _serve(pki: ServerPki | None) -> Iterator[str]:
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Answer)
    if pki is not None:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(pki.cert_file, pki.key_file)
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> ServerPki:
    return write_server_pki(tmp_path_factory.mktemp("pki"))


@pytest.fixture
def tls_server(pki: ServerPki) -> Iterator[str]:
    yield from _serve(pki)


@pytest.fixture
def plain_server() -> Iterator[str]:
    yield from _serve(None)


def test_a_certificate_from_another_ca_is_refused_naming_the_ca_file(
    tls_server: str, tmp_path: Path
) -> None:
    other = write_server_pki(tmp_path / "other")

    error = refusal(tls_server, Transport(insecure=False, ca_file=other.ca_file))

    assert error.startswith(f"list nodes: TLS handshake with the SuperLink at {tls_server} failed")
    assert f"not trusted by the CA file {other.ca_file}" in error


def test_a_private_ca_is_not_trusted_by_the_default_cas(tls_server: str) -> None:
    error = refusal(tls_server, Transport(insecure=False))

    assert "its certificate is not trusted by the default CAs" in error


def test_a_certificate_for_another_host_is_refused_naming_the_host(tmp_path: Path) -> None:
    elsewhere = write_server_pki(tmp_path / "elsewhere", hosts=("superlink.elsewhere",))
    for address in _serve(elsewhere):
        error = refusal(address, Transport(insecure=False, ca_file=elsewhere.ca_file))

        assert "its certificate does not name '127.0.0.1'" in error


def test_the_right_ca_gets_through_the_handshake(tls_server: str, pki: ServerPki) -> None:
    error = refusal(tls_server, Transport(insecure=False, ca_file=pki.ca_file))

    assert "SuperLink error 500" in error  # the handshake passed; the server answered


def test_tls_to_a_plaintext_server_suggests_flower_insecure(
    plain_server: str, pki: ServerPki
) -> None:
    error = refusal(plain_server, Transport(insecure=False, ca_file=pki.ca_file))

    assert "TLS handshake" in error and "--flower-insecure" in error


def test_plaintext_to_a_tls_server_suggests_a_ca_file(tls_server: str) -> None:
    error = refusal(tls_server, Transport(insecure=True))

    assert error.endswith("if the SuperLink uses TLS, give its CA bundle with --flower-ca-file")


# --- the commands ----------------------------------------------------------------------


def test_run_refuses_a_missing_ca_file_in_one_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = tmp_path / "ca.pem"
    argv = ["run", "--repo", str(tmp_path), "--superlink", "fl.example:8000"]

    code = main([*argv, "--flower-ca-file", str(missing)])

    err = capsys.readouterr().err
    assert code == 2
    assert err == f"reconciler run: Flower CA file {missing}: No such file or directory\n"


def test_run_refuses_insecure_together_with_a_ca_file(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], pki: ServerPki
) -> None:
    argv = ["run", "--repo", str(tmp_path), "--superlink", "fl.example:8000"]

    code = main([*argv, "--flower-insecure", "--flower-ca-file", str(pki.ca_file)])

    assert code == 2
    assert "contradict" in capsys.readouterr().err


def test_logs_reads_the_ca_file_from_the_environment(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "from-env.pem"
    monkeypatch.setenv(FLOWER_CA_ENV, str(missing))

    code = main(["logs", "acme/digits", "--superlink", "fl.example:8000"])

    assert code == 2
    assert capsys.readouterr().err == (
        f"reconciler logs: Flower CA file {missing}: No such file or directory\n"
    )


def test_flower_insecure_overrides_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from reconciler.cli import build_parser
    from reconciler.cli.common import flower_transport

    monkeypatch.setenv(FLOWER_CA_ENV, str(tmp_path / "ca.pem"))
    args = build_parser().parse_args(["logs", "x", "--flower-insecure"])

    assert flower_transport(args, "fl.example:8000") == Transport(insecure=True)
