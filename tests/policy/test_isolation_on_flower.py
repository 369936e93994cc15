"""At run time no byte lands outside the attempt's own folder: a spec of acme whose prefix
names globex's federation runs on real Flower (daemon, PostgreSQL, Git remote, SuperLink and
three SuperNodes), and the artifact store is listed before and after."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from tests.e2e.test_push_to_completed_federation import (
    SPEC_PATH,
    push_and_complete,
    seeded_files,
)
from tests.source.gitutil import isolated_git

__all__ = ["isolated_git"]

pytestmark = [
    pytest.mark.e2e,
    pytest.mark.flower,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(600),
]


def listing(root: Path) -> dict[str, str]:
    """Every file under `root`: relative path -> sha256."""
    return {
        p.relative_to(root).as_posix(): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_a_prefix_naming_another_tenant_writes_only_into_its_own_folder(
    tmp_path: Path, pg_url: str
) -> None:
    store = tmp_path / "artifacts"
    victim = store / "fl-checkpoints" / "globex" / "victim" / "g1"
    victim.mkdir(parents=True)
    (victim / "round-0001.npz").write_bytes(b"globex's own checkpoint")
    before = listing(store)
    files = seeded_files()
    files[SPEC_PATH] = str(files[SPEC_PATH]).replace(
        "prefix: digits-fedavg", "prefix: globex/victim"
    )

    push_and_complete(tmp_path, pg_url, files)

    after = listing(store)
    assert {path: after[path] for path in before} == before  # globex's files untouched
    written = sorted(set(after) - set(before))
    assert written, "the federation wrote no checkpoint"
    own = "fl-checkpoints/acme/globex/victim/g1/"
    assert all(path.startswith(own) for path in written), written
