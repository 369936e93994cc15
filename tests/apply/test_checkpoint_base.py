"""Where a generation's checkpoints go, on a laptop (local root) and on S3."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import checkpoint_base
from reconciler.model import FederationKey

KEY = FederationKey("acme", "digits")


def doc(bucket: str, prefix: str | None = None) -> dict:
    artifacts = {"outputBucket": bucket, **({"prefix": prefix} if prefix else {})}
    return {"spec": {"artifacts": artifacts}}


@pytest.mark.parametrize("bucket", ["s3://ckpt", "ckpt"])
def test_s3_keeps_the_bucket_and_prefix(bucket: str) -> None:
    assert checkpoint_base(doc(bucket, "team/x"), KEY, 3, None) == "s3://ckpt/team/x/g3"


def test_default_prefix_is_tenant_and_name() -> None:
    assert checkpoint_base(doc("s3://ckpt"), KEY, 1, None) == "s3://ckpt/acme/digits/g1"


def test_a_local_root_turns_the_bucket_into_a_folder(tmp_path: Path) -> None:
    uri = checkpoint_base(doc("s3://ckpt", "p"), KEY, 2, str(tmp_path))
    assert uri == (tmp_path / "ckpt" / "p" / "g2").as_uri()
