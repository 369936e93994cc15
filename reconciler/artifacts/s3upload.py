"""Upload one file to S3 in one reading pass, checked by the server and verified afterwards.

Called by `S3ArtifactStore.put`. The file is read once, in order: the sha256 of the whole file
is computed on the reading thread while parts go out in parallel.

Integrity: every request body is covered by its signed sha256 (SigV4 payload signing, see
`s3config`), which the server checks before storing it. A single PUT also carries a
Content-MD5 and its ETag is compared afterwards. A multipart upload is completed with the
part ETags the server returned, and a HEAD afterwards checks the size and the multipart ETag
(MD5 of the part MD5s, "-N") of what the server now holds.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import re
from collections.abc import Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from reconciler.artifacts.base import ArtifactError, IntegrityError
from reconciler.artifacts.s3config import S3Config
from reconciler.artifacts.s3errors import Where, with_retries

MAX_PARTS = 10_000  # S3's limit per multipart upload
MiB = 1024 * 1024
MD5_HEX = re.compile(r"[0-9a-f]{32}")
Part = tuple[int, str]  # (part number, ETag as the server sent it)


@dataclass(frozen=True)
class Uploaded:
    sha256: str  # of the whole file
    size: int
    etag: str | None  # what the server's ETag must be (unquoted), None when not an MD5


def upload(client: Any, config: S3Config, where: Where, path: Path) -> Uploaded:
    """Store `path` at `where`; return its sha256 and size once the server holds exactly it."""
    size = path.stat().st_size
    if size <= config.part_size:
        uploaded = _single(client, config, where, path.read_bytes())
    else:
        uploaded = _multipart(client, config, where, path, part_size_for(size, config.part_size))
    _verify(client, config, where, uploaded)
    return uploaded


def part_size_for(size: int, preferred: int) -> int:
    """`preferred`, or bigger (whole MiB) when the file would need more than MAX_PARTS parts."""
    least = -(-size // MAX_PARTS)
    return max(preferred, -(-least // MiB) * MiB)


def multipart_etag(etags: Sequence[str]) -> str | None:
    """The ETag S3 gives a multipart object made of parts with these ETags, or None when a
    part's ETag is not a plain MD5 (encrypted objects)."""
    digests = [etag.strip('"') for etag in etags]
    if not all(MD5_HEX.fullmatch(d) for d in digests):
        return None
    joined = b"".join(bytes.fromhex(d) for d in digests)
    return f"{hashlib.md5(joined, usedforsecurity=False).hexdigest()}-{len(digests)}"


def _single(client: Any, config: S3Config, where: Where, data: bytes) -> Uploaded:
    md5 = hashlib.md5(data, usedforsecurity=False).digest()
    with_retries(
        lambda: client.put_object(
            Bucket=where.bucket,
            Key=where.key,
            Body=data,
            ContentMD5=base64.b64encode(md5).decode("ascii"),
        ),
        where,
        config.backoff,
    )
    return Uploaded(hashlib.sha256(data).hexdigest(), len(data), md5.hex())


def _multipart(client: Any, config: S3Config, where: Where, path: Path, part_size: int) -> Uploaded:
    created = with_retries(
        lambda: client.create_multipart_upload(Bucket=where.bucket, Key=where.key),
        where,
        config.backoff,
    )
    upload_id = str(created["UploadId"])
    try:
        sha256, size, parts = _send_parts(client, config, where, path, upload_id, part_size)
        listed = [{"PartNumber": number, "ETag": etag} for number, etag in parts]
        with_retries(
            lambda: client.complete_multipart_upload(
                Bucket=where.bucket,
                Key=where.key,
                UploadId=upload_id,
                MultipartUpload={"Parts": listed},
            ),
            where,
            config.backoff,
        )
    except BaseException:
        _abort(client, where, upload_id)
        raise
    return Uploaded(sha256, size, multipart_etag([etag for _, etag in parts]))


def _send_parts(
    client: Any, config: S3Config, where: Where, path: Path, upload_id: str, part_size: int
) -> tuple[str, int, list[Part]]:
    """Read parts in order (hashing the whole file), send up to `concurrency` at once;
    return the file's sha256, its size, and the parts in order."""
    digest = hashlib.sha256()
    size = 0
    parts: list[Part] = []
    pending: set[Future[Part]] = set()
    with ThreadPoolExecutor(config.concurrency, thread_name_prefix="s3-part") as pool:
        try:
            with path.open("rb") as handle:
                for number, chunk in enumerate(iter(lambda: handle.read(part_size), b""), 1):
                    digest.update(chunk)
                    size += len(chunk)
                    send = (client, config, where, upload_id, number, chunk)
                    pending.add(pool.submit(_send_part, *send))
                    if len(pending) >= config.concurrency:
                        pending = _collect(pending, parts, FIRST_COMPLETED)
            _collect(pending, parts, "ALL_COMPLETED")
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    return digest.hexdigest(), size, sorted(parts)


def _collect(pending: set[Future[Part]], parts: list[Part], when: str) -> set[Future[Part]]:
    done, still = wait(pending, return_when=when)
    parts.extend(future.result() for future in done)  # re-raises a part's error here
    return still


def _send_part(
    client: Any, config: S3Config, where: Where, upload_id: str, number: int, chunk: bytes
) -> Part:
    response = with_retries(
        lambda: client.upload_part(
            Bucket=where.bucket,
            Key=where.key,
            UploadId=upload_id,
            PartNumber=number,
            Body=chunk,
        ),
        where,
        config.backoff,
    )
    return number, str(response["ETag"])


def _verify(client: Any, config: S3Config, where: Where, uploaded: Uploaded) -> None:
    """What the server now holds has the size and ETag of what was sent."""
    checking = replace(where, doing="checking")
    head = with_retries(
        lambda: client.head_object(Bucket=where.bucket, Key=where.key), checking, config.backoff
    )
    stored = int(head.get("ContentLength", -1))
    if stored != uploaded.size:
        raise IntegrityError(where.uri, str(uploaded.size), str(stored), algorithm="size")
    if uploaded.etag is not None and not _opaque_etag(head):
        actual = str(head.get("ETag", "")).strip('"')
        if actual != uploaded.etag:
            raise IntegrityError(where.uri, uploaded.etag, actual, algorithm="ETag")


def _opaque_etag(head: Mapping[str, Any]) -> bool:
    """With KMS or customer-key encryption an ETag is not an MD5 of the bytes."""
    encrypted = str(head.get("ServerSideEncryption", "")).startswith("aws:kms")
    return encrypted or bool(head.get("SSECustomerAlgorithm"))


def _abort(client: Any, where: Where, upload_id: str) -> None:
    """Drop a failed upload's parts. Best effort: the original error matters more, and a
    bucket lifecycle rule removes what this could not."""
    with contextlib.suppress(ArtifactError):
        with_retries(
            lambda: client.abort_multipart_upload(
                Bucket=where.bucket, Key=where.key, UploadId=upload_id
            ),
            replace(where, doing="aborting"),
            (),
        )
