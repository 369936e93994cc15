"""Memory a cycle freed goes back to the operating system (glibc's malloc_trim)."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.daemon import memory


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
