"""Which completed round is the best one: pure, shared by the status report and the CLI.

The deciding metric is the first accuracy-like one (higher is better), else the first
loss-like one (lower is better), by name; a series without either has no best round.
Later rounds win ties, so the checkpoint named is the newest of equals.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class BestRound:
    number: int
    metric: str
    value: float
    higher_is_better: bool


def deciding_metric(names: Iterable[str]) -> tuple[str, bool] | None:
    """(metric, higher is better) among `names`, or None."""
    ordered = sorted(set(names))
    for word, higher in (("acc", True), ("loss", False)):
        found = [n for n in ordered if word in n.lower()]
        if found:
            return found[0], higher
    return None


def best_round(rounds: Iterable[tuple[int, Mapping[str, Any]]]) -> BestRound | None:
    """The best of (round number, metrics) pairs; None if no metric decides."""
    scored = [(n, m) for n, m in rounds if m]
    decided = deciding_metric(name for _, m in scored for name in m)
    if decided is None:
        return None
    metric, higher = decided
    best: BestRound | None = None
    for number, metrics in scored:
        value = metrics.get(metric)
        if not isinstance(value, int | float) or not math.isfinite(value):
            continue
        if best is None or (value >= best.value if higher else value <= best.value):
            best = BestRound(number, metric, float(value), higher)
    return best
