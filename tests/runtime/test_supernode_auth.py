"""SuperNode authentication on a TLS SuperLink (Flower 1.42 `--enable-supernode-auth`):
SuperNodes whose public keys were registered through the Control API join; a SuperNode
without a registered key is refused and never comes online."""

from __future__ import annotations

import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.runtime.local import LocalFlower, end_tree, free_port, venv_bin

pytestmark = [pytest.mark.flower, pytest.mark.timeout(240)]
REFUSAL_WAIT = 90.0  # seconds; Flower refuses at the first attempt (start-up is slow under load)
REFUSAL = "All SuperNodes must be registered"  # Flower's message (exit code 305)


def _wait_for_refusal(flower: LocalFlower, log_path: Path) -> bool:
    """True once the stranger logs Flower's refusal; only two nodes online meanwhile."""
    runtime = flower.runtime()
    deadline = time.monotonic() + REFUSAL_WAIT
    try:
        while time.monotonic() < deadline:
            assert sum(n.online for n in runtime.nodes()) == 2
            if REFUSAL in log_path.read_text(errors="replace"):
                return True
            time.sleep(1.0)
    finally:
        runtime.close()
    return False


@pytest.fixture(scope="module")
def authed_flower(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalFlower]:
    with LocalFlower(
        tmp_path_factory.mktemp("flower-auth"), supernodes=2, tls=True, supernode_auth=True
    ) as flower:
        yield flower


def test_registered_supernodes_join(authed_flower: LocalFlower) -> None:
    runtime = authed_flower.runtime()
    try:
        nodes = runtime.nodes()
    finally:
        runtime.close()

    assert sum(n.online for n in nodes) == 2
    for index in range(2):
        key = authed_flower.workdir / f"supernode-{index}" / "node.key"
        assert key.stat().st_mode & 0o077 == 0


def test_an_unregistered_supernode_is_refused(authed_flower: LocalFlower, tmp_path: Path) -> None:
    log_path = tmp_path / "stranger.log"
    with log_path.open("wb") as log:
        stranger = subprocess.Popen(
            [
                str(venv_bin() / "flower-supernode"),
                "--root-certificates",
                str(authed_flower.pki.ca_file),
                "--superlink",
                authed_flower.address,
                "--host",
                "127.0.0.1",
                "--port",
                str(free_port()),
            ],
            cwd=tmp_path,
            env={
                "PATH": str(venv_bin()),
                "FLWR_HOME": str(tmp_path),
                "FLWR_TELEMETRY_ENABLED": "0",
            },
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        refused = _wait_for_refusal(authed_flower, log_path)
        runtime = authed_flower.runtime()
        try:
            nodes = runtime.nodes()
        finally:
            runtime.close()
    finally:
        end_tree(stranger, kill=True)

    assert refused, f"no refusal in {log_path} after {REFUSAL_WAIT:.0f} s"
    assert len(nodes) == 2  # the stranger was not even recorded
