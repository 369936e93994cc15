"""Line charts of per-round metrics as geometry for an SVG the server renders. Pure.

A `Chart` holds what the template draws: one polyline per series, a dot per point (with its
value as a tooltip), and the axes' ticks. Coordinates are in the SVG's own units
(`WIDTH` x `HEIGHT`); the page scales it. Series of different scales (loss ~2, accuracy ~0.9)
share one chart only where the caller puts them there: the federation page draws one chart
per metric, compare one chart per metric with a series per federation.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

WIDTH, HEIGHT = 640, 240
LEFT, RIGHT, TOP, BOTTOM = 56, 16, 16, 32  # room for the axes' labels
# Colour-blind safe (Okabe-Ito), in the order series are drawn.
PALETTE = ("#0072B2", "#E69F00", "#009E73", "#CC79A7", "#56B4E9", "#D55E00", "#F0E442", "#000000")


@dataclass(frozen=True)
class Point:
    x: float
    y: float
    round: int
    value: float


@dataclass(frozen=True)
class Series:
    name: str
    colour: str
    points: tuple[Point, ...]

    @property
    def path(self) -> str:
        """The polyline's `points` attribute."""
        return " ".join(f"{p.x:.1f},{p.y:.1f}" for p in self.points)


@dataclass(frozen=True)
class Tick:
    at: float  # x or y in SVG units
    label: str


@dataclass(frozen=True)
class Chart:
    title: str
    series: tuple[Series, ...]
    x_ticks: tuple[Tick, ...]
    y_ticks: tuple[Tick, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    top: int = TOP
    bottom_y: int = HEIGHT - BOTTOM
    right_x: int = WIDTH - RIGHT


def _span(lo: float, hi: float) -> tuple[float, float]:
    if lo == hi:  # one value (or a flat line): give it room above and below
        pad = abs(lo) * 0.1 or 1.0
        return lo - pad, hi + pad
    return lo, hi


def _nice_ticks(lo: float, hi: float, count: int = 5) -> list[float]:
    step = (hi - lo) / max(count - 1, 1)
    magnitude = 10 ** math.floor(math.log10(step))
    step = min((m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= step), default=step)
    first = math.ceil(lo / step) * step
    ticks, value = [], first
    while value <= hi + step * 1e-9:
        ticks.append(round(value, 12))
        value += step
    return ticks


def _label(value: float) -> str:
    return f"{value:.4g}"


def line_chart(title: str, curves: Sequence[tuple[str, Sequence[tuple[int, float]]]]) -> Chart:
    """A chart of `curves`: (series name, [(round, value), ...]) each; rounds on x."""
    drawn = [(name, sorted(points)) for name, points in curves if points]
    rounds = [r for _, points in drawn for r, _ in points]
    values = [v for _, points in drawn for _, v in points]
    x_lo, x_hi = (min(rounds), max(rounds)) if rounds else (1, 1)
    y_lo, y_hi = _span(min(values), max(values)) if values else (0.0, 1.0)
    if x_lo == x_hi:
        x_lo, x_hi = x_lo - 1, x_hi + 1
    inner_w, inner_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM

    def x_of(r: float) -> float:
        return LEFT + (r - x_lo) / (x_hi - x_lo) * inner_w

    def y_of(v: float) -> float:
        return TOP + (1 - (v - y_lo) / (y_hi - y_lo)) * inner_h

    series = tuple(
        Series(
            name,
            PALETTE[i % len(PALETTE)],
            tuple(Point(x_of(r), y_of(v), r, v) for r, v in points),
        )
        for i, (name, points) in enumerate(drawn)
    )
    x_ticks = tuple(
        Tick(x_of(r), str(int(r))) for r in _nice_ticks(x_lo, x_hi) if float(r).is_integer()
    )
    y_ticks = tuple(Tick(y_of(v), _label(v)) for v in _nice_ticks(y_lo, y_hi))
    return Chart(title, series, x_ticks, y_ticks)
