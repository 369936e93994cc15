"""S3 settings come from the standard environment, MinIO's names work, and keys never show."""

from __future__ import annotations

import pytest

from reconciler.artifacts import S3ArtifactStore, S3Config
from reconciler.artifacts.s3upload import MAX_PARTS, MiB, part_size_for

SECRET = "s3cr3t-never-printed"


def test_endpoint_region_and_path_style_from_aws_variables() -> None:
    config = S3Config.from_env(
        {"AWS_ENDPOINT_URL": "http://127.0.0.1:9000", "AWS_DEFAULT_REGION": "eu-west-1"}
    )
    assert (config.endpoint, config.region, config.path_style) == (
        "http://127.0.0.1:9000",
        "eu-west-1",
        True,  # an endpoint override is MinIO/Ceph-like: path style unless told otherwise
    )


def test_s3_specific_endpoint_and_aws_region_win() -> None:
    config = S3Config.from_env(
        {
            "AWS_ENDPOINT_URL": "http://general:1",
            "AWS_ENDPOINT_URL_S3": "http://s3-only:2",
            "AWS_REGION": "us-west-2",
            "AWS_DEFAULT_REGION": "eu-west-1",
        }
    )
    assert (config.endpoint, config.region) == ("http://s3-only:2", "us-west-2")


def test_plain_aws_leaves_addressing_and_credentials_to_botocore() -> None:
    config = S3Config.from_env({})
    assert (config.endpoint, config.region, config.path_style) == (None, "us-east-1", None)
    assert (config.access_key, config.secret_key) == (None, None)


@pytest.mark.parametrize(("value", "expected"), [("false", False), ("0", False), ("YES", True)])
def test_path_style_can_be_set_either_way(value: str, expected: bool) -> None:
    env = {"AWS_ENDPOINT_URL": "http://x:1", "THUNDERLINE_S3_PATH_STYLE": value}
    assert S3Config.from_env(env).path_style is expected


def test_a_path_style_that_is_not_a_boolean_is_refused() -> None:
    with pytest.raises(ValueError, match="THUNDERLINE_S3_PATH_STYLE must be true or false"):
        S3Config.from_env({"THUNDERLINE_S3_PATH_STYLE": "sometimes"})


def test_minio_keys_are_aliases_when_aws_keys_are_absent() -> None:
    config = S3Config.from_env({"MINIO_ACCESS_KEY": "minio", "MINIO_SECRET_KEY": SECRET})
    assert (config.access_key, config.secret_key) == ("minio", SECRET)


def test_aws_keys_win_over_minio_aliases() -> None:
    env = {"AWS_ACCESS_KEY_ID": "aws", "MINIO_ACCESS_KEY": "minio", "MINIO_SECRET_KEY": SECRET}
    config = S3Config.from_env(env)
    # None: boto3's own chain reads AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY itself.
    assert (config.access_key, config.secret_key) == (None, None)


def test_keys_never_appear_in_reprs() -> None:
    config = S3Config.from_env(
        {
            "AWS_ENDPOINT_URL": f"http://user:{SECRET}@127.0.0.1:9000",
            "MINIO_ACCESS_KEY": "minio-key-id",
            "MINIO_SECRET_KEY": SECRET,
        }
    )
    store = S3ArtifactStore("s3://bucket/prefix", config)
    shown = repr(config) + repr(store) + str(config) + config.where
    assert SECRET not in shown
    assert "minio-key-id" not in shown
    assert config.where == "http://127.0.0.1:9000"
    assert "http://127.0.0.1:9000" in repr(store)


def test_part_size_grows_only_when_a_file_needs_more_than_10000_parts() -> None:
    assert part_size_for(200 * MiB, 8 * MiB) == 8 * MiB
    huge = 8 * MiB * MAX_PARTS + 1
    grown = part_size_for(huge, 8 * MiB)
    assert grown % MiB == 0
    assert -(-huge // grown) <= MAX_PARTS
    assert grown == 9 * MiB
