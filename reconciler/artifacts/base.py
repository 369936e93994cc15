"""Artifact references, the store interface, and the errors every store raises.

`flowerapp` writes checkpoints through an `ArtifactStore`; `runtime` and `flowerapp`
verify inputs with `fetch_verified`. A store variant (local folder today, S3 later)
implements `ArtifactStore` and raises only the errors defined here.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO, Protocol

CHUNK = 1024 * 1024


@dataclass(frozen=True)
class ArtifactRef:
    """Where an artifact lives and what its bytes are."""

    uri: str
    sha256: str
    size: int


class ArtifactError(Exception):
    """Base of every artifact error."""


class ArtifactNotFound(ArtifactError):
    """The URI names nothing: the spec or the caller must change (needs a person)."""


class StoreNotConfigured(ArtifactError):
    """The URI's scheme needs a store this process was not configured with (needs a person)."""


class IntegrityError(ArtifactError):
    """An artifact's bytes do not match the sha256 they were promised to have."""

    def __init__(self, uri: str, expected: str, actual: str) -> None:
        self.uri = uri
        self.expected = expected
        self.actual = actual
        super().__init__(
            f"sha256 mismatch for {uri}: expected {expected[:12]}..., got {actual[:12]}..."
        )


class ArtifactStore(Protocol):
    """Puts local files under a base location and gets them back, verified."""

    def put(self, local_path: Path, name: str) -> ArtifactRef:
        """Store `local_path` as `name` (a relative, '/'-separated name) and return its ref."""
        ...

    def get(self, uri: str, dest: Path, *, sha256: str | None = None) -> Path:
        """Copy the artifact at `uri` to `dest`, verify `sha256` when given, return `dest`."""
        ...


def copy_hashing(src: BinaryIO, dst: BinaryIO) -> tuple[str, int]:
    """Copy a stream in chunks; return (sha256 hex, size in bytes) of what was copied."""
    digest = hashlib.sha256()
    size = 0
    while chunk := src.read(CHUNK):
        digest.update(chunk)
        dst.write(chunk)
        size += len(chunk)
    return digest.hexdigest(), size


def sha256_file(path: Path) -> tuple[str, int]:
    """Return (sha256 hex, size in bytes) of a file, read in chunks."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        while chunk := handle.read(CHUNK):
            digest.update(chunk)
            size += len(chunk)
    return digest.hexdigest(), size


def check_digest(uri: str, expected: str | None, actual: str) -> None:
    """Raise IntegrityError when an expected digest is given and differs."""
    if expected and expected.lower() != actual:
        raise IntegrityError(uri, expected.lower(), actual)
