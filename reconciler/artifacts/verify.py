"""Is a reported artifact really under its attempt's folder, with the bytes it claims?

`inside(uri, base)` (pure) says whether an artifact URI names something under a checkpoint
base URI, after normalising both: same scheme and bucket (or host), and the path segments of
the base first. Anything that could mean something else to another reader is refused rather
than normalised: `.` and `..` segments, empty segments, percent signs left after decoding
once (`%2e%2e`, `%252e`), backslashes, NUL, a query or a fragment.
`measure(uri)` reads the stored bytes (local folder or S3) and returns their sha256 and
size, without keeping a copy. `check_stored` combines both for the daemon's progress sink
and for the apply step that records a federation Completed.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from reconciler.artifacts.base import ArtifactError, ArtifactNotFound, sha256_file
from reconciler.artifacts.local import path_from_file_uri

_LOCAL_HOSTS = ("", "localhost")


@dataclass(frozen=True)
class Mismatch:
    """Why a reported artifact is not what it claims: `reason` is a short code."""

    reason: str  # outside | missing | sha256 | size
    detail: str


def _segments(uri: str) -> tuple[str, str, tuple[str, ...]] | None:
    """(scheme, bucket or host, path segments) of a URI that means one thing only, else None."""
    try:
        parts = urlsplit(uri)
    except ValueError:
        return None
    scheme = parts.scheme.lower()
    if scheme not in ("file", "s3") or parts.query or parts.fragment or "?" in uri or "#" in uri:
        return None
    host = parts.netloc
    if scheme == "file":
        if host.lower() not in _LOCAL_HOSTS:
            return None
        host = ""
    elif not host or any(c in host for c in "@:%/\\"):
        return None
    path = unquote(parts.path)
    if any(c in path for c in "%\\\x00") or not path.startswith("/"):
        return None
    segments = tuple(path.strip("/").split("/")) if path.strip("/") else ()
    if any(s in ("", ".", "..") for s in segments):
        return None
    return scheme, host, segments


def inside(uri: str, base: str) -> bool:
    """True when `uri` names an object strictly below the folder `base` (both normalised)."""
    wanted, have = _segments(base.rstrip("/")), _segments(uri)
    if wanted is None or have is None:
        return False
    (scheme, host, folder), (scheme2, host2, path) = wanted, have
    return (
        (scheme, host) == (scheme2, host2)
        and len(path) > len(folder)
        and (path[: len(folder)] == folder)
    )


def measure(uri: str, *, base: str | None = None) -> tuple[str, int]:
    """(sha256, size) of the bytes stored at `uri` (file:// or s3://), read in chunks.

    With `base` (a file:// folder), a local artifact must still be under it once links are
    resolved. Raises `ArtifactNotFound` when nothing is there, other `ArtifactError`s as the
    store does (`transient` when retrying later may help)."""
    if urlsplit(uri).scheme == "s3":
        return _measure_s3(uri)
    path = path_from_file_uri(uri)
    real = path.resolve()
    if base is not None and not real.is_relative_to(path_from_file_uri(base).resolve()):
        raise ArtifactNotFound(f"{uri} leads outside its folder")
    if not real.is_file():
        raise ArtifactNotFound(f"no artifact at {uri}")
    return sha256_file(real)


def _measure_s3(uri: str) -> tuple[str, int]:
    from reconciler.artifacts.s3 import S3ArtifactStore

    return S3ArtifactStore(uri).measure(uri)


def check_stored(uri: str, *, sha256: str, size: int, base: str) -> Mismatch | None:
    """None when `uri` lies under `base` and holds exactly `size` bytes hashing to `sha256`.

    Raises `ArtifactError` with `transient` set when the store cannot answer now."""
    if not inside(uri, base):
        return Mismatch("outside", f"{uri!r} is not under this attempt's folder {base}")
    try:
        actual_sha, actual_size = measure(uri, base=base if base.startswith("file:") else None)
    except ArtifactNotFound as exc:
        return Mismatch("missing", str(exc))
    except ArtifactError as exc:
        if exc.transient:
            raise
        return Mismatch("missing", f"{uri} cannot be read: {exc}")
    if actual_size != size:
        return Mismatch("size", f"{uri} holds {actual_size} bytes, not {size}")
    if actual_sha != sha256.lower():
        return Mismatch("sha256", f"{uri} does not hash to the reported sha256")
    return None


__all__ = ["Mismatch", "check_stored", "inside", "measure"]
