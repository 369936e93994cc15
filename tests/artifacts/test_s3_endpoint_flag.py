"""`reconciler run --s3-endpoint URL` points S3 at MinIO/Ceph for the daemon and the Flower
processes it starts; a URL that is not http(s) is refused in one line, before anything starts."""

from __future__ import annotations

import os

import pytest

from reconciler.cli import build_parser, main
from reconciler.cli.run import use_s3_endpoint


def test_the_flag_sets_aws_endpoint_url_for_the_process_and_children(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://before:1")  # restored after the test
    args = build_parser().parse_args(
        ["run", "--repo", ".", "--s3", "--s3-endpoint", "http://127.0.0.1:7480"]
    )

    use_s3_endpoint(args.s3_endpoint)

    assert os.environ["AWS_ENDPOINT_URL"] == "http://127.0.0.1:7480"


def test_without_the_flag_the_environment_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://minio:9000")
    use_s3_endpoint(None)
    assert os.environ["AWS_ENDPOINT_URL"] == "http://minio:9000"


def test_a_bad_endpoint_is_one_line_and_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["run", "--repo", ".", "--s3-endpoint", "minio:9000"])

    err = capsys.readouterr().err
    assert code == 2
    assert err == (
        "reconciler run: --s3-endpoint must be an http:// or https:// URL, not 'minio:9000'\n"
    )
