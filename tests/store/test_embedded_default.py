"""The embedded default: without DATABASE_URL a local PostgreSQL starts in the data folder and
answers; with DATABASE_URL that server is used and described without its password."""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest

from reconciler.store import Store, StoreUnavailable, database_url
from reconciler.store.embedded import start

pytestmark = pytest.mark.pg


@pytest.fixture
def data_root() -> Iterator[Path]:
    """A folder outside pytest's tmp tree: as root the server runs as another system user,
    and every pytest session resets its tmp root to 0700, locking that user out."""
    root = Path(tempfile.mkdtemp(prefix="tl-embedded-"))
    yield root
    shutil.rmtree(root, ignore_errors=True)


def test_embedded_server_starts_and_answers(data_root: Path) -> None:
    server = start(data_root / "pg")
    try:
        with Store.connect(server.url) as store:
            assert store.migrate() >= 1
            assert store.load_recorded() == {}
        with psycopg.connect(server.url) as conn:
            row = conn.execute("SHOW listen_addresses").fetchone()
        assert row == ("",)  # Unix socket only
        assert (data_root / "pg" / "PG_VERSION").exists()
    finally:
        server.stop()


def test_database_url_prefers_the_environment(tmp_path: Path) -> None:
    url, where = database_url(
        {"DATABASE_URL": "postgresql://app:hunter2@db.internal:5433/fl"}, tmp_path / "pg"
    )

    assert url == "postgresql://app:hunter2@db.internal:5433/fl"
    assert where == "PostgreSQL at db.internal:5433/fl (DATABASE_URL)"
    assert not (tmp_path / "pg").exists()  # nothing embedded was started


def test_read_only_commands_do_not_create_an_embedded_database(tmp_path: Path) -> None:
    with pytest.raises(StoreUnavailable, match="no embedded database"):
        database_url({}, tmp_path / "pg", create=False)

    assert not (tmp_path / "pg").exists()


def test_a_uid_without_a_passwd_entry_is_named_before_initdb_fails_on_it(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """An arbitrary uid (`docker run --user 4242`) outside the image's entry point."""

    def no_entry(uid: int) -> None:
        raise KeyError(uid)

    monkeypatch.setattr("reconciler.store.embedded.os.geteuid", lambda: 4242)
    monkeypatch.setattr("reconciler.store.embedded.pwd.getpwuid", no_entry)

    with pytest.raises(StoreUnavailable, match="passwd entry for uid 4242") as caught:
        start(tmp_path / "pg")

    assert "DATABASE_URL" in str(caught.value)
    assert not (tmp_path / "pg").exists()  # refused before anything was made
