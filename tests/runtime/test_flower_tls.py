"""A TLS SuperLink and TLS SuperNodes on loopback: a federation runs to completion through
the Control API over TLS, and clients without the deployment's CA are refused with an error
that says why."""

from __future__ import annotations

import urllib.error
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from flower_harness import (
    SECRET,
    RecordingSink,
    digits_document,
    refusal,
    request,
    wait_finished,
)

from reconciler.runtime.certs import write_server_pki
from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress import ReportKind
from reconciler.runtime.progress_server import ProgressServer
from reconciler.runtime.tls import Transport

pytestmark = [pytest.mark.flower, pytest.mark.timeout(400)]


@pytest.fixture(scope="module")
def tls_flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFlower]:
    with LocalFlower(
        tmp_path_factory.mktemp("flower-tls"), supernodes=3, progress_key=SECRET, tls=True
    ) as flower:
        yield flower


def test_a_federation_runs_to_completion_over_tls(tls_flower: LocalFlower, repo_root: Path) -> None:
    sink = RecordingSink()
    driver = tls_flower.runtime()
    try:
        with ProgressServer(sink, SECRET) as server:
            run_id = driver.submit(
                request(repo_root, digits_document(repo_root, rounds=2), server.url)
            )
            status = wait_finished(driver, run_id, timeout=300)
        nodes = driver.nodes()
    finally:
        driver.close()

    assert driver.transport == Transport(insecure=False, ca_file=tls_flower.pki.ca_file)
    assert status == ("finished", "completed", "")
    assert [r.round for r in sink.of() if r.kind == ReportKind.ROUND_COMPLETED] == [1, 2]
    assert sink.last(ReportKind.COMPLETED).round == 2
    assert sum(n.online for n in nodes) == 3  # the SuperNodes joined over TLS


def test_the_superlink_port_speaks_only_tls(tls_flower: LocalFlower) -> None:
    with pytest.raises((urllib.error.URLError, ConnectionError)):
        urllib.request.urlopen(f"http://{tls_flower.address}/health", timeout=5)


def test_a_client_without_the_ca_is_refused(tls_flower: LocalFlower) -> None:
    error = refusal(tls_flower.address, Transport(insecure=False))

    assert error.startswith(f"list nodes: TLS handshake with the SuperLink at {tls_flower.address}")
    assert "not trusted by the default CAs" in error


def test_a_client_with_another_ca_is_refused_naming_its_file(
    tls_flower: LocalFlower, tmp_path: Path
) -> None:
    other = write_server_pki(tmp_path / "other")

    error = refusal(tls_flower.address, Transport(insecure=False, ca_file=other.ca_file))

    assert f"not trusted by the CA file {other.ca_file}" in error


def test_a_plaintext_client_is_told_to_give_the_ca(tls_flower: LocalFlower) -> None:
    error = refusal(tls_flower.address, Transport(insecure=True))

    assert "if the SuperLink uses TLS, give its CA bundle with --flower-ca-file" in error


def test_no_private_key_leaves_the_tls_folder(tls_flower: LocalFlower) -> None:
    pki = tls_flower.pki

    assert pki.key_file.stat().st_mode & 0o077 == 0
    for log in tls_flower.workdir.glob("*/process.log"):
        assert "PRIVATE KEY" not in log.read_text(errors="replace"), log
