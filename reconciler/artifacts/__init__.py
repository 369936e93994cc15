"""Artifacts: verified inputs (models, data shards) and stored outputs (checkpoints).

Public surface: `ArtifactRef`, `ArtifactStore` with its two variants (`LocalArtifactStore`
for `file://` folders, `S3ArtifactStore` for `s3://` buckets), `S3Config`, `open_store`
(picks the variant by URI scheme), `fetch_verified`, and the errors. Each error's
`transient` says whether retrying later may help (True) or a person must act (False).
"""

from reconciler.artifacts.base import (
    AccessDenied,
    ArtifactError,
    ArtifactNotFound,
    ArtifactRef,
    ArtifactStore,
    IntegrityError,
    StoreNotConfigured,
    StoreUnavailable,
    sha256_file,
)
from reconciler.artifacts.local import LocalArtifactStore
from reconciler.artifacts.resolve import fetch_verified, local_path, open_store
from reconciler.artifacts.s3 import S3ArtifactStore
from reconciler.artifacts.s3config import S3Config

__all__ = [
    "AccessDenied",
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactRef",
    "ArtifactStore",
    "IntegrityError",
    "LocalArtifactStore",
    "S3ArtifactStore",
    "S3Config",
    "StoreNotConfigured",
    "StoreUnavailable",
    "fetch_verified",
    "local_path",
    "open_store",
    "sha256_file",
]
