"""The generic webhook's signature, and the check a receiver runs (docs/notifications.md).

The sender signs `f"{timestamp}.".encode() + body` with HMAC-SHA256 under the shared key
and sends the timestamp (Unix seconds) and `sha256=<hex>` in two headers. A receiver
recomputes the signature over the timestamp it was given, compares in constant time, and
refuses a timestamp further than its tolerance from its own clock: a recorded request replayed
later fails, and changing the timestamp breaks the signature. Within the tolerance a receiver
drops a delivery id it has already handled (retries reuse the id, with a fresh timestamp).
"""

from __future__ import annotations

import hashlib
import hmac
import time

SIGNATURE_HEADER = "X-Thunderline-Signature"
TIMESTAMP_HEADER = "X-Thunderline-Timestamp"
DELIVERY_HEADER = "X-Thunderline-Delivery"
TOLERANCE_SECONDS = 300


def signature(key: bytes, timestamp: int, body: bytes) -> str:
    """`sha256=<hex>` over the timestamp, a dot and the body."""
    digest = hmac.new(key, f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"sha256={digest}"


def signed_headers(key: bytes, body: bytes, *, now: float | None = None) -> dict[str, str]:
    timestamp = int(time.time() if now is None else now)
    return {TIMESTAMP_HEADER: str(timestamp), SIGNATURE_HEADER: signature(key, timestamp, body)}


def verify(
    key: bytes,
    *,
    timestamp: str,
    signature_header: str,
    body: bytes,
    now: float | None = None,
    tolerance: float = TOLERANCE_SECONDS,
) -> bool:
    """The receiver's check: a well-formed, fresh timestamp and a matching signature."""
    if not timestamp.isdigit():
        return False
    moment = time.time() if now is None else now
    if abs(moment - int(timestamp)) > tolerance:
        return False
    return hmac.compare_digest(signature(key, int(timestamp), body), signature_header)
