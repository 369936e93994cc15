"""Request-rate limits for the daemon's HTTP surface: one token bucket per (client, route).

`daemon.http` asks `RateLimiter.allow(client, route)` before reading a request's body and
answers 429 when it says no. Memory stays bounded whatever the clients do: at most
`max_buckets` buckets are kept, and the one used longest ago is dropped first (a dropped
client merely starts again with a full bucket).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Limit:
    rate: float  # requests per second, sustained
    burst: int  # requests allowed at once, after a quiet period


# Progress reports come from the ServerApps, all behind one SuperLink address: thousands of
# federations report a few times per round, so that route gets the widest limit.
DEFAULT_LIMITS: Mapping[str, Limit] = {
    "/webhook": Limit(rate=5.0, burst=20),
    "/v1/progress": Limit(rate=200.0, burst=400),
    "other": Limit(rate=20.0, burst=50),  # probes, metrics, and every unknown path
}
MAX_BUCKETS = 4096


class RateLimiter:
    """Thread-safe; `clock` is seconds on a monotonic clock."""

    def __init__(
        self,
        limits: Mapping[str, Limit] = DEFAULT_LIMITS,
        *,
        max_buckets: int = MAX_BUCKETS,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._limits = dict(limits)
        self._max = max_buckets
        self._clock = clock
        self._buckets: OrderedDict[tuple[str, str], tuple[float, float]] = OrderedDict()
        self._lock = threading.Lock()

    def route_of(self, path: str) -> str:
        """The limit a request path falls under (query strings ignored)."""
        route = path.split("?", 1)[0]
        return route if route in self._limits else "other"

    def allow(self, client: str, route: str) -> bool:
        """Take one token from the (client, route) bucket; False when it is empty."""
        limit = self._limits[route]
        now = self._clock()
        key = (client, route)
        with self._lock:
            tokens, then = self._buckets.pop(key, (float(limit.burst), now))
            tokens = min(float(limit.burst), tokens + (now - then) * limit.rate)
            allowed = tokens >= 1.0
            self._buckets[key] = (tokens - 1.0 if allowed else tokens, now)
            while len(self._buckets) > self._max:
                self._buckets.popitem(last=False)
        return allowed

    def retry_after(self, route: str) -> int:
        """Whole seconds until one token is back in an empty bucket of `route`."""
        return max(1, math.ceil(1.0 / self._limits[route].rate))

    def __len__(self) -> int:
        return len(self._buckets)
