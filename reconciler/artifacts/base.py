"""Artifact references, the store interface, and the errors every store raises.

`flowerapp` writes checkpoints through an `ArtifactStore`; `runtime` and `flowerapp`
verify inputs with `fetch_verified`. A store variant (local folder, S3) implements
`ArtifactStore` and raises only the errors defined here. Every error says what to do next
through `transient`: True means retrying later may help, False means a person must act.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
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

    transient: bool = False  # True: retry later; False: needs a person


class ArtifactNotFound(ArtifactError):
    """The URI (or its bucket) names nothing: the spec or the caller must change."""


class StoreNotConfigured(ArtifactError):
    """The URI needs a store, credentials or settings this process lacks (needs a person)."""


class AccessDenied(ArtifactError):
    """The store refused these credentials for this bucket and key (needs a person)."""


class StoreUnavailable(ArtifactError):
    """The store did not answer usefully (connection, throttling, 5xx) after all retries."""

    transient = True


class IntegrityError(ArtifactError):
    """An artifact's bytes do not match the digest they were promised to have.

    `transient` is set when the bytes were damaged on the way (the server refused an
    upload's digest), so sending them again may succeed; a stored artifact that does not
    match its sha256 needs a person.
    """

    def __init__(
        self,
        uri: str,
        expected: str,
        actual: str,
        *,
        algorithm: str = "sha256",
        transient: bool = False,
    ) -> None:
        self.uri = uri
        self.expected = expected
        self.actual = actual
        self.algorithm = algorithm
        self.transient = transient
        super().__init__(
            f"{algorithm} mismatch for {uri}: expected {expected[:12]}..., got {actual[:12]}..."
        )


class ArtifactStore(Protocol):
    """Puts local files under a base location and gets them back, verified."""

    def put(self, local_path: Path, name: str) -> ArtifactRef:
        """Store `local_path` as `name` (a relative, '/'-separated name) and return its ref."""
        ...

    def get(self, uri: str, dest: Path, *, sha256: str | None = None) -> Path:
        """Copy the artifact at `uri` to `dest`, verify `sha256` when given, return `dest`."""
        ...


def safe_name(name: str) -> PurePosixPath:
    """`name` as a relative path; ValueError when it is empty, absolute or climbs with '..'."""
    relative = PurePosixPath(name)
    if not name or relative.is_absolute() or ".." in relative.parts:
        raise ValueError(f"artifact name must be a relative path without '..': {name!r}")
    return relative


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
