"""Webhook deliveries already acted on, so that a replay asks for no second cycle.

`daemon.http` calls `DeliveryLog.first_time(keys)` after a delivery's signature checked
out, with the keys `source.webhook.replay_keys` names for it. Only authenticated deliveries
are remembered, so nobody without the secret can fill the log or push entries out of it.
Memory stays bounded whatever arrives: at most `capacity` keys (32-byte digests) are kept,
and the one seen longest ago is dropped first. A dropped key only means that a replay of a
delivery older than the last `capacity` ones asks for one more cycle, which is harmless:
cycles are level-triggered, and one at an unchanged revision costs a `git ls-remote`.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Iterable

CAPACITY = 4096  # keys; two per push at most (delivery id, body), about 0.5 MiB in all


class DeliveryLog:
    """A thread-safe LRU set of delivery keys (the HTTP server answers on many threads)."""

    def __init__(self, capacity: int = CAPACITY) -> None:
        if capacity < 1:
            raise ValueError("a delivery log keeps at least one key")
        self._capacity = capacity
        self._seen: OrderedDict[bytes, None] = OrderedDict()
        self._lock = threading.Lock()

    def first_time(self, keys: Iterable[bytes]) -> bool:
        """Remember `keys`; True when none of them was seen before (a new delivery), False
        for a replay. No keys: nothing can tell this delivery from a replay, so it counts
        as new and nothing is remembered."""
        keys = tuple(keys)
        with self._lock:
            seen = any(key in self._seen for key in keys)
            for key in keys:
                self._seen[key] = None
                self._seen.move_to_end(key)  # a replay keeps its delivery remembered
            while len(self._seen) > self._capacity:
                self._seen.popitem(last=False)
        return not seen

    def __len__(self) -> int:
        return len(self._seen)
