"""Memory a cycle freed goes back to the operating system (glibc's malloc_trim)."""

from __future__ import annotations

import gc
import weakref
from pathlib import Path

import pytest

from reconciler.daemon import memory
from reconciler.daemon.memory import FULL_COLLECTION_EVERY, CycleMemory


def _rss_mib() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    raise AssertionError("no VmRSS in /proc/self/status")


@pytest.mark.skipif(memory._TRIM is None, reason="this C library has no malloc_trim")
def test_freed_heap_memory_leaves_the_process() -> None:
    # Mid-sized texts as a cycle's rendered pages are, in runs separated by texts the cycle
    # keeps: freeing the runs leaves holes inside the heap, which glibc keeps mapped (it
    # gives back only a free top of the heap by itself).
    runs, kept = [], []
    for i in range(2_000):
        runs.append([("x" * 1500) + str(j) for j in range(50)])  # ~75 KiB each
        kept.append(("k" * 1500) + str(i))
    del runs  # ~150 MiB
    before = _rss_mib()
    memory.release_freed_memory()
    after = _rss_mib()
    assert before - after > 100, (before, after)
    assert len(kept) == 2_000


def test_survivors_are_frozen_and_collected_in_full_now_and_then() -> None:
    """Long-lived state stays out of the collector's way, but a garbage cycle among it is
    freed within FULL_COLLECTION_EVERY cycles."""
    keeper = CycleMemory()
    try:
        box = _Box()
        probe = weakref.ref(box)
        keeper.after_cycle()  # cycle 1: the box survives it and is frozen
        assert gc.get_freeze_count() > 0
        del box  # now garbage: a reference cycle only the collector frees
        for _ in range(FULL_COLLECTION_EVERY - 2):
            keeper.after_cycle()
        gc.collect()  # an ordinary collection does not look at frozen objects
        assert probe() is not None
        keeper.after_cycle()  # cycle FULL_COLLECTION_EVERY
        assert probe() is None
    finally:
        gc.unfreeze()


class _Box:
    def __init__(self) -> None:
        self.me = self  # a cycle
