"""Spread checking many spec files over worker processes.

Checking is CPU-bound Python, so big repositories (the 10,000-file benchmark) go faster in
processes. Used by `repo.check_files` and `reconciler validate`; small inputs stay in-process.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from typing import TypeVar

T = TypeVar("T")
R = TypeVar("R")

PARALLEL_MIN_ITEMS = 400  # below this, starting worker processes costs more than it saves


def map_chunks(
    work: Callable[[Sequence[T]], list[R]], items: Sequence[T], *, workers: int
) -> list[R]:
    """`work` over `items` in order, in chunks, on up to `workers` processes. `work` must be
    a module-level function (or a partial of one). Workers are forked, or come from a fork
    server when the caller runs threads (forking a threaded process is unsafe)."""
    if workers <= 1 or len(items) < PARALLEL_MIN_ITEMS:
        return work(items)
    import multiprocessing  # ~10 ms to import: `reconciler validate` of one file skips it

    size = -(-len(items) // (workers * 4))  # a few chunks per worker evens out slow files
    chunks = [items[i : i + size] for i in range(0, len(items), size)]
    method = "forkserver" if threading.active_count() > 1 else "fork"
    with multiprocessing.get_context(method).Pool(workers) as pool:
        return [result for part in pool.map(work, chunks) for result in part]
