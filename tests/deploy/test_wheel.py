"""The package as a user installs it: `python -m build` makes the sdist from the files a
clean clone has, then the wheel from that sdist (so both must be complete); the wheel goes
into a fresh venv, whose `reconciler` validates the example specs and migrates a real
PostgreSQL database from the schema and migrations inside it."""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import zipfile
from pathlib import Path

import psycopg
import pytest

from tests.deploy.artefacts import ROOT

pytestmark = [pytest.mark.pg, pytest.mark.timeout(900)]

MIGRATIONS = sorted(p.name for p in (ROOT / "reconciler/store/migrations").glob("*.sql"))
DATA = ["reconciler/specs/federation-spec.schema.json", "reconciler/flowerapp/fab/pyproject.toml"]


def clean_clone(dest: Path) -> Path:
    """The tracked files, as `git clone` would check them out (links kept as links)."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=ROOT, capture_output=True, check=True
    ).stdout
    for name in filter(None, listed.decode().split("\0")):
        source, target = ROOT / name, dest / name
        if not source.exists() and not source.is_symlink():
            continue  # deleted in the working tree, not yet committed
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target, follow_symlinks=False)
    return dest


def run(*args: str | Path, cwd: Path, timeout: float = 600) -> str:
    result = subprocess.run(
        [str(a) for a in args], cwd=cwd, capture_output=True, text=True, timeout=timeout
    )
    assert result.returncode == 0, f"{args}:\n{result.stdout}\n{result.stderr}"
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def dist(tmp_path_factory: pytest.TempPathFactory) -> Path:
    clone = clean_clone(tmp_path_factory.mktemp("clone"))
    run(sys.executable, "-m", "build", "--outdir", "dist", ".", cwd=clone)
    return clone / "dist"


def test_the_sdist_and_the_wheel_carry_the_schema_the_migrations_and_the_app(dist: Path) -> None:
    (sdist,) = dist.glob("*.tar.gz")
    (wheel,) = dist.glob("*.whl")
    with tarfile.open(sdist) as tar, zipfile.ZipFile(wheel) as zipped:
        in_sdist = {n.split("/", 1)[1] for n in tar.getnames() if "/" in n}
        in_wheel = set(zipped.namelist())

    for name in [*DATA, *(f"reconciler/store/migrations/{m}" for m in MIGRATIONS)]:
        assert name in in_sdist, name
        assert name in in_wheel, name
    assert not any(n.startswith(("tests/", "bench/")) for n in in_wheel)


def test_the_wheel_in_a_fresh_venv_validates_specs_and_migrates_a_database(
    dist: Path, tmp_path: Path, pg_url: str
) -> None:
    run(sys.executable, "-m", "venv", tmp_path / "venv", cwd=tmp_path)
    bin_dir = tmp_path / "venv" / "bin"
    (wheel,) = dist.glob("*.whl")
    run(bin_dir / "pip", "install", "-q", "--no-compile", wheel, cwd=tmp_path)

    # Outside the source tree, so nothing can come from it.
    shutil.copytree(ROOT / "specs", tmp_path / "specs")
    validated = run(bin_dir / "reconciler", "validate", "specs", cwd=tmp_path)
    run(bin_dir / "reconciler", "migrate", "--database-url", pg_url, cwd=tmp_path, timeout=120)

    assert "3 spec file(s) valid" in validated, validated
    with psycopg.connect(pg_url) as conn:
        applied = conn.execute("SELECT version FROM schema_migrations ORDER BY 1").fetchall()
    assert [v for (v,) in applied] == [int(m[:4]) for m in MIGRATIONS]
