"""S3 settings from the standard environment, and the boto3 client built from them.

Read by `open_store` and `fetch_verified` for `s3://` URIs, in the daemon and inside Flower's
app processes alike (they inherit the SuperLink/SuperNode environment), so one set of
variables configures both. boto3 is imported only when a client is first needed.

Environment (all optional):
- `AWS_ENDPOINT_URL_S3` or `AWS_ENDPOINT_URL`: a MinIO/Ceph/other endpoint instead of AWS.
- `AWS_REGION` or `AWS_DEFAULT_REGION`: the signing region (default us-east-1).
- `THUNDERLINE_S3_PATH_STYLE`: true/false; path-style addressing (bucket in the path, not
  the host name). Default: true when an endpoint is set, else chosen by botocore.
- Credentials: boto3's standard chain (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY/
  AWS_SESSION_TOKEN, AWS_PROFILE, shared files, instance roles). When AWS_ACCESS_KEY_ID is
  unset, MINIO_ACCESS_KEY/MINIO_SECRET_KEY are accepted as aliases.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit, urlunsplit

MiB = 1024 * 1024
TRUE = frozenset({"1", "true", "yes", "on"})
FALSE = frozenset({"0", "false", "no", "off"})


@dataclass(frozen=True, repr=False)
class S3Config:
    """How to reach S3. `repr` shows neither the keys nor any user:password in the endpoint."""

    endpoint: str | None = None  # None: AWS itself
    region: str = "us-east-1"
    path_style: bool | None = None  # None: botocore decides (virtual hosts on AWS)
    access_key: str | None = None  # None: boto3's chain
    secret_key: str | None = None
    part_size: int = 8 * MiB  # bytes per multipart part; files up to this go in one PUT
    concurrency: int = 10  # parts in flight at once
    max_attempts: int = 3  # botocore's own attempts per request, the first included
    backoff: tuple[float, ...] = (0.5, 2.0, 5.0)  # then our retries: seconds, jittered
    connect_timeout: float = 5.0  # seconds
    read_timeout: float = 60.0  # seconds

    @classmethod
    def from_env(cls, environ: Mapping[str, str] | None = None) -> S3Config:
        """Settings from the process environment (see the module docstring)."""
        env = os.environ if environ is None else environ
        endpoint = env.get("AWS_ENDPOINT_URL_S3") or env.get("AWS_ENDPOINT_URL") or None
        access, secret = None, None
        if not env.get("AWS_ACCESS_KEY_ID") and env.get("MINIO_ACCESS_KEY"):
            access, secret = env["MINIO_ACCESS_KEY"], env.get("MINIO_SECRET_KEY")
        return cls(
            endpoint=endpoint,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            path_style=_flag(env.get("THUNDERLINE_S3_PATH_STYLE"), default=endpoint is not None),
            access_key=access,
            secret_key=secret,
        )

    def __repr__(self) -> str:
        return f"S3Config({self.where}, path_style={self.path_style})"

    @property
    def where(self) -> str:
        """The endpoint for messages: without any user:password a URL might carry."""
        if self.endpoint is None:
            return f"AWS S3 ({self.region})"
        parts = urlsplit(self.endpoint)
        return urlunsplit(parts._replace(netloc=parts.netloc.rpartition("@")[2]))


def _flag(value: str | None, *, default: bool) -> bool | None:
    if value is None or not value.strip():
        return default or None
    lowered = value.strip().lower()
    if lowered in TRUE:
        return True
    if lowered in FALSE:
        return False
    raise ValueError(f"THUNDERLINE_S3_PATH_STYLE must be true or false, not {value!r}")


@functools.lru_cache(maxsize=8)
def client_for(config: S3Config) -> Any:
    """A boto3 S3 client for `config`, shared (boto3 clients are thread-safe)."""
    import boto3
    from botocore.config import Config

    addressing = {True: "path", False: "virtual", None: "auto"}[config.path_style]
    settings = Config(
        region_name=config.region,
        signature_version="s3v4",
        # Sign every body's sha256, also over https: the server then refuses a body damaged
        # on the way (AWS, MinIO and Ceph check x-amz-content-sha256). Measured, this costs
        # less than a Content-MD5 per part (MD5 runs at ~40% of SHA-256's speed here).
        s3={"addressing_style": addressing, "payload_signing_enabled": True},
        retries={"mode": "standard", "total_max_attempts": config.max_attempts},
        connect_timeout=config.connect_timeout,
        read_timeout=config.read_timeout,
        max_pool_connections=max(10, config.concurrency),
        # Signed payloads protect every body already; botocore's default CRC32 on each
        # request would cost CPU and is ignored by older servers (Ceph 16).
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    session = boto3.session.Session(
        aws_access_key_id=config.access_key, aws_secret_access_key=config.secret_key
    )
    return session.client("s3", endpoint_url=config.endpoint, config=settings)
