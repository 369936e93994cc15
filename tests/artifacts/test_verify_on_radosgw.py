"""The daemon reads a reported checkpoint back from a real S3 server (Ceph radosgw) before
it records it: the bytes that are there, the size and sha256 reported, or a refusal."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from reconciler.artifacts.verify import check_stored, measure
from tests.artifacts.conftest import S3Server

pytestmark = [pytest.mark.s3]

BODY = b"a checkpoint's bytes" * 1000


@pytest.fixture
def stored(
    s3: tuple[Any, Any, str], radosgw: S3Server, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """(base folder, object URI) of one checkpoint uploaded to the bucket."""
    _, client, bucket = s3
    for name, value in radosgw.env.items():
        monkeypatch.setenv(name, value)
    client.put_object(Bucket=bucket, Key="acme/digits/g1/round-0001.npz", Body=BODY)
    base = f"s3://{bucket}/acme/digits/g1"
    return base, f"{base}/round-0001.npz"


def test_measure_reads_the_stored_bytes(stored: tuple[str, str]) -> None:
    _, uri = stored
    assert measure(uri) == (hashlib.sha256(BODY).hexdigest(), len(BODY))


def test_the_reported_digest_and_size_are_accepted(stored: tuple[str, str]) -> None:
    base, uri = stored
    assert (
        check_stored(uri, sha256=hashlib.sha256(BODY).hexdigest(), size=len(BODY), base=base)
        is None
    )


@pytest.mark.parametrize(
    ("change", "reason"),
    [
        ({"sha256": "0" * 64}, "sha256"),
        ({"size": len(BODY) + 1}, "size"),
        ({"uri": "missing"}, "missing"),
        ({"uri": "outside"}, "outside"),
    ],
)
def test_what_the_store_does_not_hold_is_refused(
    stored: tuple[str, str], change: dict[str, Any], reason: str
) -> None:
    base, uri = stored
    claim: dict[str, Any] = {"sha256": hashlib.sha256(BODY).hexdigest(), "size": len(BODY)}
    claim |= {k: v for k, v in change.items() if k != "uri"}
    target = {
        "missing": f"{base}/round-0002.npz",
        "outside": uri.replace("/acme/", "/globex/"),
    }.get(change.get("uri", ""), uri)
    mismatch = check_stored(target, base=base, **claim)
    assert mismatch is not None and mismatch.reason == reason
