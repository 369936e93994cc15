"""Containment of reported artifact URIs in a checkpoint folder, and reading them back."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import pytest

from reconciler.artifacts.verify import check_stored, inside, measure

BASE = "file:///srv/a/fl/acme/digits/g1"


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        (f"{BASE}/round-0001.npz", True),
        (f"{BASE}/sub/round-0001.npz", True),
        ("file://localhost/srv/a/fl/acme/digits/g1/round-0001.npz", True),
        (BASE, False),  # the folder itself
        (f"{BASE}/", False),
        (f"{BASE}0/round-0001.npz", False),  # g10 is not under g1
        (f"{BASE}/../g2/round-0001.npz", False),
        (f"{BASE}/./round-0001.npz", False),
        (f"{BASE}//round-0001.npz", False),
        (f"{BASE}/%2e%2e/g2/round-0001.npz", False),
        (f"{BASE}/%2E%2E/g2/round-0001.npz", False),
        (f"{BASE}/%252e%252e/g2/round-0001.npz", False),
        (f"{BASE}/..%2fg2/round-0001.npz", False),
        (f"{BASE}/a%00b", False),
        (f"{BASE}/a\\..\\..\\b", False),
        (f"{BASE}/round-0001.npz?x=1", False),
        (f"{BASE}/round-0001.npz#x", False),
        ("file://evil.example/srv/a/fl/acme/digits/g1/round-0001.npz", False),
        ("file:///etc/passwd", False),
        ("s3://fl/acme/digits/g1/round-0001.npz", False),
        ("/srv/a/fl/acme/digits/g1/round-0001.npz", False),  # no scheme
        ("http://x/srv/a/fl/acme/digits/g1/round-0001.npz", False),
    ],
)
def test_only_uris_strictly_below_the_folder_are_inside(uri: str, expected: bool) -> None:
    assert inside(uri, BASE) is expected


@pytest.mark.parametrize(
    ("uri", "expected"),
    [
        ("s3://fl-checkpoints/acme/digits/g1/round-0001.npz", True),
        ("s3://fl-checkpoints/acme/digits/g1x/round-0001.npz", False),
        ("s3://fl-checkpoints/globex/digits/g1/round-0001.npz", False),
        ("s3://other-bucket/acme/digits/g1/round-0001.npz", False),
        ("s3://fl-checkpoints/acme/digits/g1/../../globex/x", False),
        ("s3://user@fl-checkpoints/acme/digits/g1/x", False),
    ],
)
def test_s3_uris_need_the_same_bucket_and_prefix(uri: str, expected: bool) -> None:
    assert inside(uri, "s3://fl-checkpoints/acme/digits/g1") is expected


def test_stored_bytes_are_read_back(tmp_path: Path) -> None:
    base = tmp_path / "g1"
    base.mkdir()
    (base / "r.npz").write_bytes(b"model")
    digest = hashlib.sha256(b"model").hexdigest()
    uri = (base / "r.npz").as_uri()
    assert measure(uri) == (digest, 5)
    assert check_stored(uri, sha256=digest, size=5, base=base.as_uri()) is None
    assert check_stored(uri, sha256=digest.upper(), size=5, base=base.as_uri()) is None
    wrong = [
        check_stored(uri, sha256="0" * 64, size=5, base=base.as_uri()),
        check_stored(uri, sha256=digest, size=6, base=base.as_uri()),
        check_stored((base / "gone.npz").as_uri(), sha256=digest, size=5, base=base.as_uri()),
        check_stored(uri, sha256=digest, size=5, base=(tmp_path / "g2").as_uri()),
    ]
    assert [m.reason if m else None for m in wrong] == ["sha256", "size", "missing", "outside"]


def test_a_link_out_of_the_folder_is_not_read(tmp_path: Path) -> None:
    base = tmp_path / "g1"
    base.mkdir()
    secret = tmp_path / "elsewhere.txt"
    secret.write_bytes(b"not yours")
    os.symlink(secret, base / "r.npz")
    digest = hashlib.sha256(b"not yours").hexdigest()
    mismatch = check_stored((base / "r.npz").as_uri(), sha256=digest, size=9, base=base.as_uri())
    assert mismatch is not None and mismatch.reason == "missing"
