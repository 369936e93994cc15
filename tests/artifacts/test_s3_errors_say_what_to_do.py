"""S3 failures become this project's errors: they name bucket and key, say whether a retry may
help, are retried with backoff when it may, and no botocore exception escapes."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from reconciler.artifacts import (
    AccessDenied,
    ArtifactError,
    ArtifactNotFound,
    IntegrityError,
    S3ArtifactStore,
    S3Config,
    StoreNotConfigured,
    StoreUnavailable,
)
from reconciler.artifacts.s3errors import Where, client_error, with_retries

WHERE = Where("ckpt", "acme/digits/round-0001.npz", "http://127.0.0.1:7480", "writing")


@pytest.mark.parametrize(
    ("code", "status", "kind", "transient"),
    [
        ("AccessDenied", 403, AccessDenied, False),
        ("SignatureDoesNotMatch", 403, AccessDenied, False),
        ("InvalidAccessKeyId", 403, AccessDenied, False),
        ("403", 403, AccessDenied, False),  # HEAD answers carry no code
        ("NoSuchBucket", 404, ArtifactNotFound, False),
        ("NoSuchKey", 404, ArtifactNotFound, False),
        ("404", 404, ArtifactNotFound, False),
        ("BadDigest", 400, IntegrityError, True),
        ("XAmzContentSHA256Mismatch", 400, IntegrityError, True),
        ("SlowDown", 503, StoreUnavailable, True),
        ("InternalError", 500, StoreUnavailable, True),
        ("RequestTimeout", 408, StoreUnavailable, True),
        ("InvalidBucketName", 400, StoreNotConfigured, False),
    ],
)
def test_each_server_error_maps_to_an_error_that_says_what_to_do(
    code: str, status: int, kind: type[ArtifactError], transient: bool
) -> None:
    error = client_error(code, status, WHERE)

    assert isinstance(error, kind)
    assert error.transient is transient
    assert "ckpt" in str(error)
    assert code in str(error)


def test_denied_and_missing_bucket_messages_name_bucket_key_and_endpoint() -> None:
    denied = str(client_error("AccessDenied", 403, WHERE))
    missing = str(client_error("NoSuchBucket", 404, WHERE))

    assert "s3://ckpt/acme/digits/round-0001.npz at http://127.0.0.1:7480" in denied
    assert "check the credentials" in denied
    assert "bucket 'ckpt' does not exist at http://127.0.0.1:7480" in missing
    assert "'acme/digits/round-0001.npz'" in missing


def test_transient_errors_are_retried_after_each_delay_then_raised() -> None:
    slept: list[float] = []
    calls: list[int] = []

    def flaky() -> str:
        calls.append(1)
        raise client_error("SlowDown", 503, WHERE)

    with pytest.raises(StoreUnavailable):
        with_retries(flaky, WHERE, (1.0, 2.0), sleep=slept.append)

    assert len(calls) == 3
    assert len(slept) == 2
    assert 0.5 <= slept[0] <= 1.5  # jittered around the configured delay
    assert 1.0 <= slept[1] <= 3.0


def test_a_retry_that_succeeds_returns_its_value() -> None:
    answers = iter([client_error("InternalError", 500, WHERE), "done"])

    def once_broken() -> str:
        answer = next(answers)
        if isinstance(answer, Exception):
            raise answer
        return answer

    assert with_retries(once_broken, WHERE, (0.0,), sleep=lambda _: None) == "done"


def test_errors_that_need_a_person_are_not_retried() -> None:
    calls: list[int] = []

    def denied() -> None:
        calls.append(1)
        raise client_error("AccessDenied", 403, WHERE)

    with pytest.raises(AccessDenied):
        with_retries(denied, WHERE, (0.0, 0.0), sleep=lambda _: None)
    assert len(calls) == 1


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_an_unreachable_endpoint_is_transient_and_names_the_object(tmp_path: Path) -> None:
    endpoint = f"http://127.0.0.1:{_closed_port()}"
    config = S3Config(
        endpoint=endpoint,
        path_style=True,
        access_key="k",
        secret_key="s",
        max_attempts=1,
        backoff=(0.01,),
        connect_timeout=1.0,
    )
    source = tmp_path / "a.bin"
    source.write_bytes(b"x")

    with pytest.raises(StoreUnavailable) as caught:
        S3ArtifactStore("s3://ckpt/pre", config).put(source, "a.bin")

    assert caught.value.transient
    assert f"writing s3://ckpt/pre/a.bin at {endpoint}" in str(caught.value)
    assert caught.value.__cause__ is None  # botocore's exception does not travel up


def test_missing_credentials_need_configuration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    config = S3Config(endpoint=f"http://127.0.0.1:{_closed_port()}", path_style=True)
    source = tmp_path / "a.bin"
    source.write_bytes(b"x")

    with pytest.raises(StoreNotConfigured, match=r"no usable S3 credentials for s3://ckpt/a\.bin"):
        S3ArtifactStore("s3://ckpt", config).put(source, "a.bin")
