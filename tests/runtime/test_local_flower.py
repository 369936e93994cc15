"""The local deployment comes up on its own ports and leaves no process behind."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.runtime.local import LocalFlower

pytestmark = [pytest.mark.flower, pytest.mark.timeout(180)]


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_stop_ends_superlink_supernodes_and_their_superexec_children(tmp_path: Path) -> None:
    flower = LocalFlower(tmp_path, supernodes=1)
    flower.start()
    try:
        tree = flower.processes()
        commands = {
            Path(f"/proc/{p}/cmdline").read_bytes().split(b"\0")[1] for p in tree if _alive(p)
        }
        assert any(c.endswith(b"flower-superlink") for c in commands)
        assert any(c.endswith(b"flower-superexec") for c in commands)
        assert (tmp_path / "superlink/state.db").exists()
        assert (tmp_path / "supernode-0/flwr-home").is_dir()
    finally:
        flower.stop()

    assert [p for p in tree if _alive(p)] == []
