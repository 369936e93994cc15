"""Keep a long-running daemon's memory in shape between cycles.

What survives a cycle is long-lived state (specs, records, statuses: ~300,000 objects over
10,000 federations). Python's cyclic collector would walk all of it in every full
collection (~130 ms, which fell inside cycles at random); `gc.freeze()` after each cycle
moves survivors out of its way. Refcounting still frees them when dropped; only a garbage
cycle among them would wait, so every `FULL_COLLECTION_EVERY` cycles they are unfrozen and
collected once.

A cycle that loads or reports thousands of federations also frees ~100 MiB at its end that
glibc keeps mapped, so resident memory would stay at the busiest cycle's peak (after a cold
start over 10,000 specs, ~290 MiB instead of ~170). `malloc_trim(0)` returns it: ~0.5 ms
after a quiet cycle, ~10 ms after a cold one.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import gc
from collections.abc import Callable

FULL_COLLECTION_EVERY = 100  # cycles


def _malloc_trim() -> Callable[[int], int] | None:
    """glibc's malloc_trim, or None where the C library has none (musl, macOS)."""
    name = ctypes.util.find_library("c")
    try:
        trim: Callable[[int], int] = ctypes.CDLL(name).malloc_trim
    except (OSError, AttributeError, TypeError):
        return None
    return trim


_TRIM = _malloc_trim()


class CycleMemory:
    """`after_cycle()` is called after every cycle by the daemon's worker. The collector's
    state is the process's, so every daemon in a process (tests run many) shares `SHARED`."""

    def __init__(self) -> None:
        self.cycles = 0

    def after_cycle(self) -> None:
        self.cycles += 1
        if self.cycles % FULL_COLLECTION_EVERY == 0:
            gc.unfreeze()
            gc.collect()
        gc.freeze()
        release_freed_memory()


SHARED = CycleMemory()


def release_freed_memory() -> None:
    if _TRIM is not None:
        _TRIM(0)
