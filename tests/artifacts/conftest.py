"""S3 servers for the artifact tests: a real one (Ceph radosgw on loopback) and moto for speed.

`radosgw` starts the project's radosgw (tests/services/radosgw.sh) unless it already answers
and leaves it running, like the PostgreSQL server the other tiers use: test sessions running
side by side share it, so none may stop it under another (`radosgw.sh stop` does, by hand).
When it cannot start (packages missing), tests that need it are skipped with the reason;
under CI=true they fail instead (`missing_service`).
`moto_endpoint` is moto's S3 server in a thread: it accepts any credentials and any digest,
so it serves the fast tests of our own logic, never as the only S3 test.
"""

from __future__ import annotations

import socket
import subprocess
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from reconciler.artifacts import S3Config
from tests.conftest import missing_service

SCRIPT = Path(__file__).resolve().parents[1] / "services/radosgw.sh"
NOT_INSTALLED = 3  # the script's exit code when Ceph's packages are missing


@dataclass(frozen=True)
class S3Server:
    env: dict[str, str]  # what `radosgw.sh env` prints

    @property
    def endpoint(self) -> str:
        return self.env["AWS_ENDPOINT_URL"]

    def config(self, **overrides: Any) -> S3Config:
        """The main test user's settings, with short backoffs so failures show fast."""
        settings: dict[str, Any] = {
            "endpoint": self.endpoint,
            "path_style": True,
            "access_key": self.env["AWS_ACCESS_KEY_ID"],
            "secret_key": self.env["AWS_SECRET_ACCESS_KEY"],
            "backoff": (0.01, 0.01),
        }
        return S3Config(**(settings | overrides))


def _parse_env(text: str) -> dict[str, str]:
    pairs = (line.removeprefix("export ").partition("=") for line in text.splitlines())
    return {name: value for name, _, value in pairs if name}


def _run_script(command: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(SCRIPT), command], capture_output=True, text=True, timeout=180, check=False
    )


@pytest.fixture(scope="session")
def radosgw() -> S3Server:
    started = _run_script("start")
    if started.returncode == NOT_INSTALLED:
        missing_service(f"Ceph radosgw is not installed ({started.stderr.strip()})")
    if started.returncode != 0:
        missing_service(f"radosgw did not start: {started.stderr.strip()[-500:]}")
    return S3Server(_parse_env(started.stdout))


def _client(config: S3Config) -> Any:
    import boto3
    from botocore.config import Config

    return boto3.client(
        "s3",
        endpoint_url=config.endpoint,
        aws_access_key_id=config.access_key,
        aws_secret_access_key=config.secret_key,
        region_name=config.region,
        config=Config(s3={"addressing_style": "path"}),
    )


def _empty_and_delete(client: Any, bucket: str) -> None:
    for upload in client.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
        client.abort_multipart_upload(Bucket=bucket, Key=upload["Key"], UploadId=upload["UploadId"])
    for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
        client.delete_object(Bucket=bucket, Key=item["Key"])
    client.delete_bucket(Bucket=bucket)


@pytest.fixture
def s3(radosgw: S3Server) -> Iterator[tuple[S3Config, Any, str]]:
    """(settings, a plain boto3 client, a fresh bucket) on radosgw; the bucket is removed after."""
    config = radosgw.config()
    client = _client(config)
    bucket = f"t-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    yield config, client, bucket
    _empty_and_delete(client, bucket)


@pytest.fixture(scope="session")
def moto_endpoint() -> Iterator[str]:
    server_module = pytest.importorskip("moto.server", reason="moto[server] is not installed")
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    server = server_module.ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    yield f"http://127.0.0.1:{port}"
    server.stop()


@pytest.fixture
def moto_s3(moto_endpoint: str) -> tuple[S3Config, Any, str]:
    """(settings, a plain boto3 client, a fresh bucket) on moto."""
    config = S3Config(
        endpoint=moto_endpoint,
        path_style=True,
        access_key="moto",
        secret_key="moto-secret",
        backoff=(0.01,),
    )
    client = _client(config)
    bucket = f"m-{uuid.uuid4().hex[:12]}"
    client.create_bucket(Bucket=bucket)
    return config, client, bucket
