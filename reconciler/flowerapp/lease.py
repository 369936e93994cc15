"""The lease a participant is granted for one task (`spec.constraints.lease`), and its verdicts.

A participant (a SuperNode's ClientApp) gets one task per round (train, or evaluate): its
reply counts only when it comes within `ttlSeconds` of the task being sent, and when what it
reports having processed (`PROCESSED_METRIC` in its reply's metrics: tokens for apps that
count them, samples x epochs for the built-in ClientApp) is at most `maxTokens`. A reply
that breaks the lease is left out of aggregation and the node is reported dropped for that
round with the reason (`LEASE_TTL`, `LEASE_EXCEEDED`). `maxEpochs` is checked before a run
ever starts (`reconciler validate`). Pure, no Flower import: the ServerApp's exchange and
the SDK both judge replies with it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

PROCESSED_METRIC = "processed"  # what a ClientApp's reply says it processed for the task
LEASE_TTL = "lease-ttl"  # the reply came later than ttlSeconds after the task was sent
LEASE_EXCEEDED = "lease-exceeded"  # the reply says it processed more than maxTokens
DEFAULT_TTL_SECONDS = 3600.0  # the schema's default for constraints.lease.ttlSeconds


@dataclass(frozen=True)
class Lease:
    ttl_seconds: float = DEFAULT_TTL_SECONDS
    max_tokens: int | None = None

    def verdict(self, processed: float | None) -> str:
        """ "" when a reply in time may count, else why it may not."""
        if self.max_tokens is not None and processed is not None and processed > self.max_tokens:
            return LEASE_EXCEEDED
        return ""


def lease_of(spec: Mapping[str, Any]) -> Lease:
    """The lease of a spec body (`document["spec"]`), defaults filled in."""
    constraints = spec.get("constraints")
    body = constraints.get("lease") if isinstance(constraints, Mapping) else None
    if not isinstance(body, Mapping):
        return Lease()
    tokens = body.get("maxTokens")
    return Lease(
        ttl_seconds=float(body.get("ttlSeconds", DEFAULT_TTL_SECONDS)),
        max_tokens=int(tokens) if tokens is not None else None,
    )


def dropped_metrics(dropped: Mapping[int, str]) -> dict[str, float]:
    """A round's metrics about its dropped nodes: `dropped` and one count per reason."""
    if not dropped:
        return {}
    counts: dict[str, float] = {"dropped": float(len(dropped))}
    for reason in dropped.values():
        counts[f"dropped-{reason}"] = counts.get(f"dropped-{reason}", 0.0) + 1.0
    return counts
