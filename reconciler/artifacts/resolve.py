"""Open a store for a base URI and fetch inputs (models, shards) with their sha256 checked.

Called by the Flower app before any training and by the runtime driver. Relative URIs
are relative to the spec repository root; `s3://` needs the S3 store (not configured yet).
"""

from __future__ import annotations

from pathlib import Path
from urllib.parse import urlparse

from reconciler.artifacts.base import (
    ArtifactNotFound,
    ArtifactStore,
    StoreNotConfigured,
    check_digest,
    sha256_file,
)
from reconciler.artifacts.local import LocalArtifactStore, path_from_file_uri

S3_MISSING = "S3 not configured: {uri} needs the S3 artifact store, which this process lacks"


def open_store(base_uri: str) -> ArtifactStore:
    """The store that writes under `base_uri` (`file://...` or an absolute path)."""
    scheme = urlparse(base_uri).scheme
    if scheme == "s3":
        raise StoreNotConfigured(S3_MISSING.format(uri=base_uri))
    if scheme == "file":
        return LocalArtifactStore(path_from_file_uri(base_uri))
    if not scheme and Path(base_uri).is_absolute():
        return LocalArtifactStore(Path(base_uri))
    raise StoreNotConfigured(f"no artifact store for {base_uri!r}")


def local_path(uri: str, repo_root: Path) -> Path:
    """The local file a `file://`, absolute or repo-relative URI names."""
    scheme = urlparse(uri).scheme
    if scheme == "s3":
        raise StoreNotConfigured(S3_MISSING.format(uri=uri))
    if scheme == "file":
        return path_from_file_uri(uri)
    if scheme:
        raise StoreNotConfigured(f"unsupported URI scheme {scheme!r} in {uri}")
    return (repo_root / uri).resolve()


def fetch_verified(
    uri: str, *, sha256: str | None, repo_root: Path, dest_dir: Path | None = None
) -> Path:
    """A readable local path for `uri` whose bytes match `sha256` (when given).

    Local files are verified where they lie (no copy); `dest_dir` is where remote
    stores will download to.
    """
    del dest_dir  # only remote stores download; the local case reads in place
    path = local_path(uri, repo_root)
    if not path.is_file():
        raise ArtifactNotFound(f"no file at {uri} (looked at {path})")
    actual, _ = sha256_file(path)
    check_digest(uri, sha256, actual)
    return path
