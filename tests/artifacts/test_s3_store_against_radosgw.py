"""The S3 store against a real S3 server (Ceph radosgw on loopback): bytes in, the same bytes
out, a damaged upload refused, and denied credentials or a missing bucket named clearly."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

from reconciler.artifacts import (
    AccessDenied,
    ArtifactNotFound,
    IntegrityError,
    S3ArtifactStore,
    S3Config,
    fetch_verified,
    open_store,
)
from reconciler.artifacts.s3config import client_for
from tests.artifacts.conftest import S3Server

pytestmark = pytest.mark.s3
MiB = 1024 * 1024
S3 = tuple[S3Config, Any, str]


def _file(tmp_path: Path, size: int, name: str = "ckpt.npz") -> tuple[Path, bytes]:
    data = os.urandom(size)
    path = tmp_path / name
    path.write_bytes(data)
    return path, data


def _stored(client: Any, bucket: str, key: str) -> bytes:
    return bytes(client.get_object(Bucket=bucket, Key=key)["Body"].read())


def test_put_stores_the_bytes_under_the_prefix_and_returns_their_sha256(
    s3: S3, tmp_path: Path
) -> None:
    config, client, bucket = s3
    source, data = _file(tmp_path, 100_000)

    ref = S3ArtifactStore(f"s3://{bucket}/acme/digits/g1", config).put(source, "round-0001.npz")

    assert ref.uri == f"s3://{bucket}/acme/digits/g1/round-0001.npz"
    assert (ref.sha256, ref.size) == (hashlib.sha256(data).hexdigest(), len(data))
    assert _stored(client, bucket, "acme/digits/g1/round-0001.npz") == data


def test_a_large_file_goes_up_in_parts_and_comes_back_whole(s3: S3, tmp_path: Path) -> None:
    config, client, bucket = s3
    config = dataclasses.replace(config, part_size=5 * MiB, concurrency=3)
    source, data = _file(tmp_path, 12 * MiB + 123)
    store = S3ArtifactStore(f"s3://{bucket}/big", config)

    ref = store.put(source, "model.bin")
    back = store.get(ref.uri, tmp_path / "back/model.bin", sha256=ref.sha256)

    assert client.head_object(Bucket=bucket, Key="big/model.bin")["ETag"].endswith('-3"')
    assert ref.sha256 == hashlib.sha256(data).hexdigest()
    assert back.read_bytes() == data


@contextmanager
def _corrupting_bodies(config: S3Config) -> Iterator[None]:
    """Flip a byte of every uploaded body after signing: the server must notice."""

    def corrupt(request: Any, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        if body:
            request.body = bytes([body[0] ^ 0xFF]) + body[1:]

    events = client_for(config).meta.events  # the store's own (shared) client
    names = [f"before-send.s3.{operation}" for operation in ("PutObject", "UploadPart")]
    for name in names:
        events.register(name, corrupt)
    try:
        yield
    finally:
        for name in names:
            events.unregister(name, corrupt)


@pytest.mark.parametrize("size", [1000, 11 * MiB], ids=["single-put", "multipart"])
def test_the_server_refuses_bytes_damaged_on_the_way_and_nothing_is_stored(
    s3: S3, tmp_path: Path, size: int
) -> None:
    config, client, bucket = s3
    config = dataclasses.replace(config, part_size=5 * MiB, backoff=(0.0,))
    source, _ = _file(tmp_path, size)

    with _corrupting_bodies(config), pytest.raises(IntegrityError) as caught:
        S3ArtifactStore(f"s3://{bucket}", config).put(source, "x.bin")

    assert caught.value.transient  # sending again may succeed
    assert f"s3://{bucket}/x.bin" in str(caught.value)
    assert "XAmzContentSHA256Mismatch" in str(caught.value)
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def test_get_refuses_an_object_whose_sha256_differs_and_leaves_no_file(
    s3: S3, tmp_path: Path
) -> None:
    config, client, bucket = s3
    client.put_object(Bucket=bucket, Key="shard.npz", Body=b"tampered")
    dest = tmp_path / "out/shard.npz"

    with pytest.raises(IntegrityError, match=rf"s3://{bucket}/shard\.npz: expected aaaaaaaaaaaa"):
        S3ArtifactStore(f"s3://{bucket}", config).get(
            f"s3://{bucket}/shard.npz", dest, sha256="a" * 64
        )

    assert list(dest.parent.iterdir()) == []


def test_wrong_secret_is_access_denied_naming_bucket_and_key_not_the_secret(
    s3: S3, tmp_path: Path
) -> None:
    config, _, bucket = s3
    wrong = dataclasses.replace(config, secret_key="wrong-secret-value")
    source, _ = _file(tmp_path, 10)

    with pytest.raises(AccessDenied) as caught:
        S3ArtifactStore(f"s3://{bucket}/p", wrong).put(source, "a.bin")

    message = str(caught.value)
    assert f"s3://{bucket}/p/a.bin" in message
    assert "SignatureDoesNotMatch" in message
    assert "wrong-secret-value" not in message
    assert config.access_key not in message  # type: ignore[operator]


def test_another_users_bucket_is_access_denied_for_writes_and_reads(
    s3: S3, radosgw: S3Server, tmp_path: Path
) -> None:
    config, client, bucket = s3
    client.put_object(Bucket=bucket, Key="model.npz", Body=b"mine")
    other = dataclasses.replace(
        config,
        access_key=radosgw.env["THUNDERLINE_TEST_S3_OTHER_ACCESS_KEY"],
        secret_key=radosgw.env["THUNDERLINE_TEST_S3_OTHER_SECRET_KEY"],
    )
    store = S3ArtifactStore(f"s3://{bucket}", other)
    source, _ = _file(tmp_path, 10)

    with pytest.raises(AccessDenied, match=rf"writing s3://{bucket}/a\.bin .*AccessDenied"):
        store.put(source, "a.bin")
    with pytest.raises(AccessDenied, match=rf"reading s3://{bucket}/model\.npz"):
        store.get(f"s3://{bucket}/model.npz", tmp_path / "m.npz")


def test_a_missing_bucket_is_not_found_naming_bucket_and_key(s3: S3, tmp_path: Path) -> None:
    config, _, _ = s3
    store = S3ArtifactStore("s3://no-such-bucket-here/pre", config)
    source, _ = _file(tmp_path, 10)

    with pytest.raises(ArtifactNotFound) as caught:
        store.put(source, "round-0001.npz")

    assert "bucket 'no-such-bucket-here' does not exist" in str(caught.value)
    assert "'pre/round-0001.npz'" in str(caught.value)
    assert not caught.value.transient


def test_a_missing_object_is_not_found(s3: S3, tmp_path: Path) -> None:
    config, _, bucket = s3
    with pytest.raises(ArtifactNotFound, match=rf"s3://{bucket}/nothing\.npz"):
        S3ArtifactStore(f"s3://{bucket}", config).get(
            f"s3://{bucket}/nothing.npz", tmp_path / "n.npz"
        )


def _use_env(monkeypatch: pytest.MonkeyPatch, env: dict[str, str]) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    for name, value in env.items():
        monkeypatch.setenv(name, value)


def test_open_store_and_fetch_verified_work_from_the_environment_with_minio_names(
    s3: S3, radosgw: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, _, bucket = s3
    _use_env(
        monkeypatch,
        {
            "AWS_ENDPOINT_URL": radosgw.endpoint,
            "MINIO_ACCESS_KEY": radosgw.env["AWS_ACCESS_KEY_ID"],
            "MINIO_SECRET_KEY": radosgw.env["AWS_SECRET_ACCESS_KEY"],
            "THUNDERLINE_ARTIFACT_CACHE": str(tmp_path / "cache"),
        },
    )
    source, data = _file(tmp_path, 5000, "init.npz")

    ref = open_store(f"s3://{bucket}/models").put(source, "init.npz")
    path = fetch_verified(ref.uri, sha256=ref.sha256, repo_root=tmp_path)

    assert path.name == "init.npz"  # the suffix still tells the format
    assert path.is_relative_to(tmp_path / "cache")
    assert path.read_bytes() == data


def test_fetch_verified_reuses_a_matching_cached_copy_and_refuses_a_tampered_object(
    s3: S3, radosgw: S3Server, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _, client, bucket = s3
    _use_env(monkeypatch, {k: v for k, v in radosgw.env.items() if k.startswith("AWS_")})
    client.put_object(Bucket=bucket, Key="shard-0.npz", Body=b"shard zero")
    uri, digest = f"s3://{bucket}/shard-0.npz", hashlib.sha256(b"shard zero").hexdigest()
    first = fetch_verified(uri, sha256=digest, repo_root=tmp_path, dest_dir=tmp_path / "c")
    client.put_object(Bucket=bucket, Key="shard-0.npz", Body=b"shard evil")

    again = fetch_verified(uri, sha256=digest, repo_root=tmp_path, dest_dir=tmp_path / "c")
    with pytest.raises(IntegrityError, match="sha256 mismatch for s3://"):
        fetch_verified(uri, sha256=digest, repo_root=tmp_path, dest_dir=tmp_path / "fresh")

    assert again == first
    assert again.read_bytes() == b"shard zero"
    assert not (tmp_path / "fresh").exists() or not any((tmp_path / "fresh").rglob("*.npz"))
