"""The S3 artifact store: checkpoints and final models as objects under s3://bucket/prefix.

`open_store` returns it for `s3://` base URIs (the Flower app's checkpoint writer, the
daemon with `--s3`); `fetch_verified` uses its `get` for `s3://` models and data shards.
Works with AWS and with MinIO/Ceph through an endpoint override (see `s3config`). Objects
appear whole or not at all (one PUT, or a multipart upload completed only when every part
arrived intact); downloads land in a temp file renamed into place once the sha256 matches.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from reconciler.artifacts.base import (
    CHUNK,
    ArtifactRef,
    check_digest,
    copy_hashing,
    safe_name,
)
from reconciler.artifacts.s3config import S3Config, client_for
from reconciler.artifacts.s3errors import Where, with_retries
from reconciler.artifacts.s3upload import upload


def split_s3_uri(uri: str) -> tuple[str, str]:
    """(bucket, key) of `s3://bucket/key`; the key may be empty (a bucket or base URI)."""
    parts = urlsplit(uri)
    if parts.scheme != "s3" or not parts.netloc:
        raise ValueError(f"not an S3 URI: {uri}")
    return parts.netloc, parts.path.strip("/")


class S3ArtifactStore:
    """Stores artifacts as objects under `base_uri` (`s3://bucket[/prefix]`)."""

    def __init__(self, base_uri: str, config: S3Config | None = None) -> None:
        self.bucket, self.prefix = split_s3_uri(base_uri)
        self.config = S3Config.from_env() if config is None else config

    def __repr__(self) -> str:
        return f"S3ArtifactStore('s3://{self.bucket}/{self.prefix}', {self.config.where})"

    @property
    def _client(self) -> Any:
        return client_for(self.config)

    def put(self, local_path: Path, name: str) -> ArtifactRef:
        key = "/".join(p for p in (self.prefix, str(safe_name(name))) if p)
        where = Where(self.bucket, key, self.config.where, "writing")
        uploaded = upload(self._client, self.config, where, local_path)
        return ArtifactRef(uri=where.uri, sha256=uploaded.sha256, size=uploaded.size)

    def get(self, uri: str, dest: Path, *, sha256: str | None = None) -> Path:
        bucket, key = split_s3_uri(uri)
        if not key:
            raise ValueError(f"an S3 object URI needs a key: {uri}")
        where = Where(bucket, key, self.config.where, "reading")
        dest.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.")
        os.close(fd)
        try:
            actual = with_retries(
                lambda: self._download(where, Path(tmp)), where, self.config.backoff
            )
            check_digest(uri, sha256, actual)
            os.replace(tmp, dest)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return dest

    def measure(self, uri: str) -> tuple[str, int]:
        """(sha256, size) of the object at `uri`, streamed: nothing is kept."""
        bucket, key = split_s3_uri(uri)
        if not key:
            raise ValueError(f"an S3 object URI needs a key: {uri}")
        where = Where(bucket, key, self.config.where, "verifying")

        def read() -> tuple[str, int]:
            response = self._client.get_object(Bucket=bucket, Key=key)
            digest, size = hashlib.sha256(), 0
            while chunk := response["Body"].read(CHUNK):
                digest.update(chunk)
                size += len(chunk)
            return digest.hexdigest(), size

        return with_retries(read, where, self.config.backoff)

    def _download(self, where: Where, target: Path) -> str:
        """One attempt: the object's bytes into `target` (rewritten); their sha256.

        botocore raises on a body shorter than its Content-Length, so a cut-off transfer is
        retried rather than hashed."""
        response = self._client.get_object(Bucket=where.bucket, Key=where.key)
        with target.open("wb") as out:
            actual, _ = copy_hashing(response["Body"], out)
        return actual
