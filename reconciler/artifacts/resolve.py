"""Open a store for a base URI and fetch inputs (models, shards) with their sha256 checked.

Called by the Flower app before any training and by the runtime driver. Relative URIs
are relative to the spec repository root; `s3://` objects are downloaded (once per content:
a cached copy is re-hashed and reused while it matches) into a cache folder.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path, PurePosixPath
from urllib.parse import urlparse

from reconciler.artifacts.base import (
    ArtifactNotFound,
    ArtifactStore,
    StoreNotConfigured,
    check_digest,
    sha256_file,
)
from reconciler.artifacts.local import LocalArtifactStore, path_from_file_uri
from reconciler.artifacts.s3 import S3ArtifactStore, split_s3_uri

CACHE_ENV = "THUNDERLINE_ARTIFACT_CACHE"


def open_store(base_uri: str) -> ArtifactStore:
    """The store that writes under `base_uri` (`s3://bucket/prefix`, `file://...` or an
    absolute path). S3 settings come from the environment (see `s3config`)."""
    scheme = urlparse(base_uri).scheme
    if scheme == "s3":
        return S3ArtifactStore(base_uri)
    if scheme == "file":
        return LocalArtifactStore(path_from_file_uri(base_uri))
    if not scheme and Path(base_uri).is_absolute():
        return LocalArtifactStore(Path(base_uri))
    raise StoreNotConfigured(f"no artifact store for {base_uri!r}")


def local_path(uri: str, repo_root: Path) -> Path:
    """The local file a `file://`, absolute or repo-relative URI names."""
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        raise StoreNotConfigured(f"{uri} is not a local file: fetch it with fetch_verified")
    if scheme == "file":
        return path_from_file_uri(uri)
    if scheme:
        raise StoreNotConfigured(f"unsupported URI scheme {scheme!r} in {uri}")
    return (repo_root / uri).resolve()


def cache_dir() -> Path:
    """Where remote inputs are downloaded: $THUNDERLINE_ARTIFACT_CACHE, else the user's cache."""
    configured = os.environ.get(CACHE_ENV)
    if configured:
        return Path(configured)
    base = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(base) / "thunderline" / "artifacts"


def fetch_verified(
    uri: str, *, sha256: str | None, repo_root: Path, dest_dir: Path | None = None
) -> Path:
    """A readable local path for `uri` whose bytes match `sha256` (when given).

    Local files are verified where they lie (no copy); `s3://` objects are downloaded under
    `dest_dir` (default: `cache_dir()`), keeping their file name so its suffix still tells
    the format.
    """
    if urlparse(uri).scheme == "s3":
        return _fetch_s3(uri, sha256, dest_dir or cache_dir())
    path = local_path(uri, repo_root)
    if not path.is_file():
        raise ArtifactNotFound(f"no file at {uri} (looked at {path})")
    actual, _ = sha256_file(path)
    check_digest(uri, sha256, actual)
    return path


def _fetch_s3(uri: str, sha256: str | None, dest_dir: Path) -> Path:
    _, key = split_s3_uri(uri)
    name = PurePosixPath(key).name or "object"
    dest = dest_dir / hashlib.sha256(uri.encode()).hexdigest()[:16] / name
    # Without a promised digest a cached copy could be stale: download again.
    if sha256 and dest.is_file() and sha256_file(dest)[0] == sha256.lower():
        return dest
    return S3ArtifactStore(uri).get(uri, dest, sha256=sha256)
