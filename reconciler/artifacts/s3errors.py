"""botocore's exceptions turned into this package's errors, and our retries on top of botocore's.

Used by the S3 store for every request, so no botocore exception leaves `reconciler.artifacts`.
Messages name the bucket, key, endpoint and the server's error code, never a credential.
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TypeVar

from reconciler.artifacts.base import (
    AccessDenied,
    ArtifactError,
    ArtifactNotFound,
    IntegrityError,
    StoreNotConfigured,
    StoreUnavailable,
)

log = logging.getLogger(__name__)
T = TypeVar("T")

DENIED = frozenset(
    {
        "403",
        "AccessDenied",
        "AccountProblem",
        "AllAccessDisabled",
        "ExpiredToken",
        "InvalidAccessKeyId",
        "InvalidToken",
        "SignatureDoesNotMatch",
    }
)
NO_KEY = frozenset({"404", "NoSuchKey", "NotFound"})
BAD_DIGEST = frozenset({"BadDigest", "InvalidDigest", "XAmzContentSHA256Mismatch"})
CREDENTIAL_HELP = (
    "check the credentials (AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY or MINIO_ACCESS_KEY/"
    "MINIO_SECRET_KEY) and the bucket policy"
)


class DigestRejected(IntegrityError):
    """The server refused sent bytes that did not match their signed sha256 or Content-MD5:
    they were damaged on the way, so sending them again may succeed."""

    def __init__(self, uri: str, code: str) -> None:
        super().__init__(uri, "", "", algorithm=code, transient=True)
        self.args = (f"the server refused the bytes sent for {uri}: digest mismatch ({code})",)


@dataclass(frozen=True)
class Where:
    """What a request was about, for messages."""

    bucket: str
    key: str
    endpoint: str  # already stripped of any user:password
    doing: str  # "writing", "reading", ...

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.key}"


def client_error(code: str, status: int, where: Where) -> ArtifactError:
    """The error for an S3 error response (`code` as the server sent it)."""
    at = f"{where.uri} at {where.endpoint}"
    if code in DENIED:
        return AccessDenied(f"access denied {where.doing} {at} ({code}): {CREDENTIAL_HELP}")
    if code == "NoSuchBucket":
        return ArtifactNotFound(
            f"bucket {where.bucket!r} does not exist at {where.endpoint} "
            f"({code}, {where.doing} key {where.key!r})"
        )
    if code in NO_KEY:
        return ArtifactNotFound(f"no object {at} ({code})")
    if code in BAD_DIGEST:
        return DigestRejected(where.uri, code)
    if status >= 500 or status in (408, 429) or "Throttl" in code or code == "SlowDown":
        return StoreUnavailable(f"S3 error {code} (HTTP {status}) {where.doing} {at}")
    return StoreNotConfigured(f"S3 refused {where.doing} {at}: {code} (HTTP {status})")


@contextmanager
def translated(where: Where) -> Iterator[None]:
    """Run a block of S3 calls; re-raise botocore errors as this package's errors."""
    from botocore import exceptions as bx

    try:
        yield
    except bx.ClientError as exc:
        error = exc.response.get("Error", {})
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
        raise client_error(str(error.get("Code", status)), status, where) from None
    except (bx.NoCredentialsError, bx.PartialCredentialsError) as exc:
        raise StoreNotConfigured(
            f"no usable S3 credentials for {where.uri}: {type(exc).__name__}; set "
            "AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY (or MINIO_ACCESS_KEY/MINIO_SECRET_KEY)"
        ) from None
    except bx.ParamValidationError as exc:
        raise StoreNotConfigured(f"invalid S3 request for {where.uri}: {exc}") from None
    except bx.BotoCoreError as exc:  # connection, timeouts, truncated bodies: worth a retry
        raise StoreUnavailable(
            f"S3 unreachable {where.doing} {where.uri} at {where.endpoint}: {type(exc).__name__}"
        ) from None


def with_retries(
    call: Callable[[], T],
    where: Where,
    backoff: tuple[float, ...],
    *,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`call()` with botocore errors translated, retried after each delay in `backoff` while
    the error is transient (botocore already retried each request a few times)."""
    for delay in (*backoff, None):
        try:
            with translated(where):
                return call()
        except ArtifactError as exc:
            if delay is None or not exc.transient:
                raise
            log.warning("retrying %s %s in %.1f s: %s", where.doing, where.uri, delay, exc)
            sleep(delay * random.uniform(0.5, 1.5))
    raise AssertionError("unreachable: the last attempt returns or raises")
