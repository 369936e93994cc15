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
    # Many mid-sized texts, as a cycle's rendered pages are, then what the cycle keeps
    # (statuses) allocated after them: freeing the texts leaves a hole glibc keeps mapped.
    texts = [("x" * 1500) + str(i) for i in range(100_000)]  # ~150 MiB
    kept = [str(i) * 2 for i in range(200_000)]
    del texts
    before = _rss_mib()
    memory.release_freed_memory()
    after = _rss_mib()
    assert before - after > 100, (before, after)
    assert len(kept) == 200_000
