"""The local artifact store and verified fetches: bytes in, the same bytes out, or a clear error."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from reconciler.artifacts import (
    ArtifactNotFound,
    IntegrityError,
    LocalArtifactStore,
    S3ArtifactStore,
    StoreNotConfigured,
    fetch_verified,
    local_path,
    open_store,
)


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def test_put_returns_a_file_uri_with_the_sha256_and_size(tmp_path: Path) -> None:
    source = tmp_path / "model.npz"
    source.write_bytes(b"weights" * 1000)
    store = LocalArtifactStore(tmp_path / "store")

    ref = store.put(source, "acme/digits/round-0001.npz")

    assert ref.uri == (tmp_path / "store/acme/digits/round-0001.npz").resolve().as_uri()
    assert ref.sha256 == _digest(b"weights" * 1000)
    assert ref.size == 7000
    assert list((tmp_path / "store/acme/digits").iterdir()) == [
        tmp_path / "store/acme/digits/round-0001.npz"
    ]


def test_get_copies_and_verifies(tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"abc")
    store = LocalArtifactStore(tmp_path / "store")
    ref = store.put(source, "a.bin")

    out = store.get(ref.uri, tmp_path / "out/a.bin", sha256=ref.sha256)

    assert out.read_bytes() == b"abc"


def test_get_with_wrong_sha256_raises_and_leaves_nothing(tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"abc")
    store = LocalArtifactStore(tmp_path / "store")
    ref = store.put(source, "a.bin")

    with pytest.raises(IntegrityError) as caught:
        store.get(ref.uri, tmp_path / "out.bin", sha256="0" * 64)

    assert caught.value.uri == ref.uri
    assert "expected 000000000000" in str(caught.value)
    assert f"got {ref.sha256[:12]}" in str(caught.value)
    assert not (tmp_path / "out.bin").exists()


@pytest.mark.parametrize("name", ["", "../escape.bin", "/abs.bin", "a/../../b"])
def test_put_refuses_names_outside_the_root(tmp_path: Path, name: str) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"x")
    with pytest.raises(ValueError):
        LocalArtifactStore(tmp_path / "store").put(source, name)


def test_fetch_verified_resolves_relative_uris_against_the_repo_root(tmp_path: Path) -> None:
    (tmp_path / "data").mkdir()
    (tmp_path / "data/shard.npz").write_bytes(b"shard")

    path = fetch_verified("data/shard.npz", sha256=_digest(b"shard"), repo_root=tmp_path)

    assert path == (tmp_path / "data/shard.npz").resolve()


def test_fetch_verified_accepts_file_uris_and_no_digest(tmp_path: Path) -> None:
    (tmp_path / "x.csv").write_bytes(b"label\n1\n")
    path = fetch_verified((tmp_path / "x.csv").as_uri(), sha256=None, repo_root=Path("/"))
    assert path.read_bytes() == b"label\n1\n"


def test_fetch_verified_names_uri_and_both_digests_on_mismatch(tmp_path: Path) -> None:
    (tmp_path / "shard.npz").write_bytes(b"tampered")
    with pytest.raises(IntegrityError, match=r"shard\.npz: expected aaaaaaaaaaaa\.\.\., got"):
        fetch_verified("shard.npz", sha256="a" * 64, repo_root=tmp_path)


def test_missing_file_is_not_found(tmp_path: Path) -> None:
    with pytest.raises(ArtifactNotFound, match=r"nothing\.npz"):
        fetch_verified("nothing.npz", sha256=None, repo_root=tmp_path)


def test_open_store_picks_the_variant_by_scheme(tmp_path: Path) -> None:
    s3 = open_store("s3://bucket/acme/digits")
    local = open_store(tmp_path.as_uri())

    assert isinstance(s3, S3ArtifactStore)
    assert (s3.bucket, s3.prefix) == ("bucket", "acme/digits")
    assert isinstance(local, LocalArtifactStore)
    assert local.root == tmp_path.resolve()
    with pytest.raises(StoreNotConfigured, match="no artifact store for 'relative/dir'"):
        open_store("relative/dir")


def test_local_path_refuses_remote_uris(tmp_path: Path) -> None:
    with pytest.raises(StoreNotConfigured, match="not a local file: fetch it"):
        local_path("s3://bucket/shard.npz", tmp_path)


def test_open_store_writes_under_a_file_base_uri(tmp_path: Path) -> None:
    source = tmp_path / "a.bin"
    source.write_bytes(b"x")
    ref = open_store((tmp_path / "base").as_uri()).put(source, "round-0001.npz")
    assert Path(ref.uri.removeprefix("file://")) == (tmp_path / "base/round-0001.npz").resolve()
