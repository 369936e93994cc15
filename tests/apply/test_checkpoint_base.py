"""Where a generation's checkpoints go, on a laptop (local root) and on S3: always inside the
federation's own tenant folder, whatever the spec's prefix says."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.apply import checkpoint_base
from reconciler.model import FederationKey
from reconciler.runtime.base import RunRejected

KEY = FederationKey("acme", "digits")


def doc(bucket: str, prefix: str | None = None) -> dict:
    artifacts = {"outputBucket": bucket, **({"prefix": prefix} if prefix else {})}
    return {"spec": {"artifacts": artifacts}}


@pytest.mark.parametrize("bucket", ["s3://ckpt", "ckpt"])
def test_s3_keeps_the_bucket_and_puts_the_prefix_in_the_tenant_folder(bucket: str) -> None:
    assert checkpoint_base(doc(bucket, "team/x"), KEY, 3, None) == "s3://ckpt/acme/team/x/g3"


def test_default_prefix_is_the_name_in_the_tenant_folder() -> None:
    assert checkpoint_base(doc("s3://ckpt"), KEY, 1, None) == "s3://ckpt/acme/digits/g1"


def test_another_tenants_name_as_prefix_stays_in_ours() -> None:
    uri = checkpoint_base(doc("s3://ckpt", "globex/victim"), KEY, 1, None)
    assert uri == "s3://ckpt/acme/globex/victim/g1"


def test_a_local_root_turns_the_bucket_into_a_folder(tmp_path: Path) -> None:
    uri = checkpoint_base(doc("s3://ckpt", "p"), KEY, 2, str(tmp_path))
    assert uri == (tmp_path / "ckpt" / "acme" / "p" / "g2").as_uri()


@pytest.mark.parametrize(
    "prefix",
    ["../globex/victim", "acme/../globex/victim", "/abs", "a//b", "%2e%2e/globex", "a\\..\\b"],
)
def test_a_prefix_that_could_leave_its_folder_is_refused_even_unvalidated(prefix: str) -> None:
    with pytest.raises(RunRejected, match="prefix"):
        checkpoint_base(doc("s3://ckpt", prefix), KEY, 1, None)
