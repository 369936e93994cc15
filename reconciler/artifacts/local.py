"""A local-folder artifact store: the embedded default for checkpoints and final models.

Called by the Flower app (checkpoints) and by anything holding a `file://` base URI.
Writes are atomic (temp file + rename), so a reader never sees half a checkpoint.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path
from urllib.parse import unquote, urlparse

from reconciler.artifacts.base import (
    ArtifactNotFound,
    ArtifactRef,
    check_digest,
    copy_hashing,
    safe_name,
)
from reconciler.faults import fault_point


def path_from_file_uri(uri: str) -> Path:
    """The absolute path a `file://` URI names."""
    parsed = urlparse(uri)
    if parsed.scheme != "file" or parsed.netloc not in ("", "localhost"):
        raise ValueError(f"not a local file URI: {uri}")
    return Path(unquote(parsed.path))


class LocalArtifactStore:
    """Stores artifacts as files under `root`; URIs are `file://` URIs."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()

    def put(self, local_path: Path, name: str) -> ArtifactRef:
        target = self.root.joinpath(*safe_name(name).parts)
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.")
        try:
            with local_path.open("rb") as src, os.fdopen(fd, "wb") as dst:
                sha256, size = copy_hashing(src, dst)
            fault_point("artifacts.put")  # written, not yet in place
            os.replace(tmp, target)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
        return ArtifactRef(uri=target.as_uri(), sha256=sha256, size=size)

    def get(self, uri: str, dest: Path, *, sha256: str | None = None) -> Path:
        source = path_from_file_uri(uri)
        if not source.is_file():
            raise ArtifactNotFound(f"no artifact at {uri}")
        dest.parent.mkdir(parents=True, exist_ok=True)
        with source.open("rb") as src, dest.open("wb") as dst:
            actual, _ = copy_hashing(src, dst)
        try:
            check_digest(uri, sha256, actual)
        except BaseException:
            dest.unlink(missing_ok=True)
            raise
        return dest
