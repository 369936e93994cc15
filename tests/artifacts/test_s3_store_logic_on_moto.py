"""The S3 store's own logic, fast, on moto (a mock S3 that checks no digests): the check after
upload catches what such a lax server lets through, and retries ride out passing failures."""

from __future__ import annotations

import dataclasses
import hashlib
import os
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest
from botocore.awsrequest import AWSResponse

from reconciler.artifacts import (
    ArtifactNotFound,
    IntegrityError,
    S3ArtifactStore,
    S3Config,
    StoreUnavailable,
)
from reconciler.artifacts.s3config import client_for

MiB = 1024 * 1024
S3 = tuple[S3Config, Any, str]


@contextmanager
def _hooked(config: S3Config, operation: str, handler: Callable[..., Any]) -> Iterator[None]:
    """Run `handler` before each `operation` request the store's client sends."""
    events = client_for(config).meta.events
    events.register(f"before-send.s3.{operation}", handler)
    try:
        yield
    finally:
        events.unregister(f"before-send.s3.{operation}", handler)


def _file(tmp_path: Path, size: int) -> Path:
    path = tmp_path / "ckpt.bin"
    path.write_bytes(os.urandom(size))
    return path


class _Body:
    def stream(self, **_: Any) -> Iterator[bytes]:
        yield b"<Error><Code>ServiceUnavailable</Code><Message>busy</Message></Error>"


def _unavailable(request: Any) -> AWSResponse:
    return AWSResponse(request.url, 503, {}, _Body())


def test_round_trip_in_parts_keeps_every_byte(moto_s3: S3, tmp_path: Path) -> None:
    config, _, bucket = moto_s3
    config = dataclasses.replace(config, part_size=5 * MiB, concurrency=2)
    source = _file(tmp_path, 11 * MiB)
    store = S3ArtifactStore(f"s3://{bucket}/p", config)

    ref = store.put(source, "ckpt.bin")
    back = store.get(ref.uri, tmp_path / "back.bin", sha256=ref.sha256)

    assert ref.sha256 == hashlib.sha256(source.read_bytes()).hexdigest()
    assert back.read_bytes() == source.read_bytes()


def test_the_check_after_upload_catches_bytes_a_lax_server_stored_damaged(
    moto_s3: S3, tmp_path: Path
) -> None:
    config, _, bucket = moto_s3
    source = _file(tmp_path, 1000)

    def damage(request: Any, **_: Any) -> None:
        body = request.body if isinstance(request.body, bytes) else request.body.read()
        request.body = b"\x00" + body[1:]

    with _hooked(config, "PutObject", damage), pytest.raises(IntegrityError) as caught:
        S3ArtifactStore(f"s3://{bucket}", config).put(source, "ckpt.bin")

    assert caught.value.algorithm == "ETag"
    assert caught.value.expected == hashlib.md5(source.read_bytes()).hexdigest()
    assert caught.value.actual != caught.value.expected


def test_a_passing_outage_during_a_part_is_retried_and_the_upload_completes(
    moto_s3: S3, tmp_path: Path
) -> None:
    config, _, bucket = moto_s3
    config = dataclasses.replace(config, part_size=5 * MiB, max_attempts=1, backoff=(0.0,))
    source = _file(tmp_path, 6 * MiB)
    failures = iter([True])

    def once_unavailable(request: Any, **_: Any) -> AWSResponse | None:
        return _unavailable(request) if next(failures, False) else None

    with _hooked(config, "UploadPart", once_unavailable):
        ref = S3ArtifactStore(f"s3://{bucket}", config).put(source, "ckpt.bin")

    assert ref.size == 6 * MiB


def test_a_lasting_outage_is_transient_after_botocore_and_our_retries(
    moto_s3: S3, tmp_path: Path
) -> None:
    config, client, bucket = moto_s3
    config = dataclasses.replace(config, part_size=5 * MiB, max_attempts=2, backoff=(0.0, 0.0))
    source = _file(tmp_path, 6 * MiB)
    attempts: list[str] = []

    def always_unavailable(request: Any, **_: Any) -> AWSResponse:
        attempts.append(request.url)
        return _unavailable(request)

    with _hooked(config, "UploadPart", always_unavailable), pytest.raises(StoreUnavailable):
        S3ArtifactStore(f"s3://{bucket}", config).put(source, "ckpt.bin")

    # Both parts: 2 botocore attempts x 3 of ours each, then the upload is aborted.
    assert len(attempts) == 2 * 2 * 3
    assert client.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []
    assert client.list_objects_v2(Bucket=bucket).get("KeyCount") == 0


def test_measure_streams_an_objects_digest_and_size(moto_s3: S3, tmp_path: Path) -> None:
    """What the daemon reads back before recording a checkpoint stored in S3."""
    config, _, bucket = moto_s3
    store = S3ArtifactStore(f"s3://{bucket}/acme/digits/g1", config)
    source = _file(tmp_path, 3 * MiB + 7)
    ref = store.put(source, "round-0001.npz")

    assert store.measure(ref.uri) == (ref.sha256, 3 * MiB + 7)
    with pytest.raises(ArtifactNotFound):
        store.measure(f"s3://{bucket}/acme/digits/g1/round-0002.npz")
