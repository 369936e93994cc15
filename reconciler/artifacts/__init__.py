"""Artifacts: verified inputs (models, data shards) and stored outputs (checkpoints).

Public surface: `ArtifactRef`, `ArtifactStore`, `LocalArtifactStore`, `open_store`,
`fetch_verified`, and the errors. A store for S3 plugs in behind `open_store`.
"""

from reconciler.artifacts.base import (
    ArtifactError,
    ArtifactNotFound,
    ArtifactRef,
    ArtifactStore,
    IntegrityError,
    StoreNotConfigured,
    sha256_file,
)
from reconciler.artifacts.local import LocalArtifactStore
from reconciler.artifacts.resolve import fetch_verified, local_path, open_store

__all__ = [
    "ArtifactError",
    "ArtifactNotFound",
    "ArtifactRef",
    "ArtifactStore",
    "IntegrityError",
    "LocalArtifactStore",
    "StoreNotConfigured",
    "fetch_verified",
    "local_path",
    "open_store",
    "sha256_file",
]
