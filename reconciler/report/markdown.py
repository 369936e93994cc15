"""The human pages under `status/`: one per federation and the `README.md` index.

Called by `render.render_status` only. Pages are GitHub-flavoured Markdown; the metrics
chart is a Mermaid `xychart-beta` block, which GitHub and GitLab draw in place. Pure and
deterministic like the rest of the renderer.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from datetime import datetime

from reconciler.model import ConditionType, Phase
from reconciler.report.best import BestRound
from reconciler.report.model import (
    ArtifactStatus,
    EventStatus,
    FederationStatus,
    ReportPhase,
    RoundStatus,
    best_of,
    rfc3339,
    shown_rounds,
)

_PHASE_MARK: dict[Phase | ReportPhase, str] = {
    ReportPhase.INVALID: "⚠️",
    Phase.PENDING: "⏳",
    Phase.STARTING: "🚀",
    Phase.RUNNING: "🟢",
    Phase.PAUSED: "⏸️",
    Phase.COMPLETED: "✅",
    Phase.FAILED: "❌",
    Phase.STOPPED: "⏹️",
}
_MAX_METRIC_COLUMNS = 6
_MAX_CHARTS = 4
_FOOTER = "_Written by the Thunderline reconciler; manual edits are overwritten._"
# Mermaid's default line colour is a pale lavender, nearly invisible on GitHub's light
# theme; this blue reads on white and on GitHub's dark background alike.
_CHART_CONFIG = (
    "---",
    "config:",
    "  themeVariables:",
    "    xyChart:",
    '      plotColorPalette: "#2563eb"',
    "---",
)
_BEST = " ★ best"


def render_page(status: FederationStatus) -> str:
    best = best_of(status)
    sections = [
        _header(status, best),
        _conditions(status),
        _rounds(shown_rounds(status), best),
        _charts(status.rounds),
        _artifact(status.artifact),
        _events(status.events),
        _problems(status.problems),
        _FOOTER,
    ]
    return "\n\n".join(s for s in sections if s) + "\n"


def render_index(
    statuses: Sequence[FederationStatus],
    row: Callable[[FederationStatus], str] | None = None,
) -> str:
    """The index page; `row` may supply (cached) table lines in place of `index_row`."""
    lines = [
        "# Federation status",
        "",
        "One row per federation, updated by the Thunderline reconciler. "
        "Machine-readable reports sit beside each page as `<tenant>/<name>.yaml`.",
        "",
    ]
    if not statuses:
        lines.append("No federations yet.")
    else:
        lines += _table(["Federation", "Phase", "Round", "Ready", "Last metrics", "Updated"], [])
        lines += [(row or index_row)(s) for s in statuses]
    return "\n".join([*lines, "", _FOOTER]) + "\n"


def index_row(status: FederationStatus) -> str:
    """The federation's line in the index table."""
    key = status.key
    return _table_line(
        [
            f"[{key}]({key.tenant}/{key.name}.md)",
            _phase(status.phase),
            _round_progress(status),
            _condition_status(status, ConditionType.READY),
            _metric_summary(status.last_metrics),
            _time(status.updated_at),
        ]
    )


def _header(status: FederationStatus, best: BestRound | None) -> str:
    reason = f" ({_cell(status.reason)})" if status.reason else ""
    facts = [
        ("Spec", f"[`{status.path}`](../../{status.path})" if status.path else "-"),
        ("Generation", f"{status.generation} (observed {status.observed_generation})"),
        ("Best round", _best(best, status.artifact)),
        ("Revision", _revision(status)),
        ("Flower runs", ", ".join(str(r) for r in status.run_ids) or "-"),
        ("Flower target", status.flower_target or "-"),
        ("Created", _time(status.created_at)),
        ("Updated", _time(status.updated_at)),
    ]
    return "\n".join([
        f"# {status.key}",
        "",
        f"**{_phase(status.phase)}**{reason} · round {_round_progress(status)}",
        "",
        *(f"- **{name}:** {value}" for name, value in facts),
    ])  # fmt: skip


def _revision(status: FederationStatus) -> str:
    if not status.revision:
        return "-"
    if status.revision_known:
        return f"`{status.revision[:12]}`"
    return (
        f"`{status.revision[:12]}` (loaded at; the checkout is too shallow to find the"
        " commit that changed the spec)"
    )


def _conditions(status: FederationStatus) -> str:
    if not status.conditions:
        return ""
    order = list(ConditionType)
    rows = [
        [c.type.value, c.status, c.reason, c.message, c.last_transition_time]
        for c in sorted(status.conditions, key=lambda c: order.index(c.type))
    ]
    return "\n".join(
        ["## Conditions", "", *_table(["Type", "Status", "Reason", "Message", "Since"], rows)]
    )


def _best(best: BestRound | None, artifact: ArtifactStatus | None) -> str:
    if best is None:
        return "-"
    text = f"{best.number} ({best.metric} {_number(best.value)})"
    if artifact is not None and artifact.round == best.number:
        text += f", checkpoint `{artifact.uri}`"
    return text


def _rounds(rounds: Sequence[RoundStatus], best: BestRound | None) -> str:
    if not rounds:
        return ""
    names = _metric_names(r.metrics for r in rounds)[:_MAX_METRIC_COLUMNS]
    marked = best.number if best else None
    rows = [
        [str(r.number), r.status + (_BEST if r.number == marked else ""),
         *(_number(r.metrics.get(n)) for n in names), _time(r.started_at), _time(r.completed_at)]
        for r in rounds
    ]  # fmt: skip
    headers = ["Round", "Status", *names, "Started", "Completed"]
    return "\n".join(["## Rounds", "", *_table(headers, rows)])


def _charts(rounds: Sequence[RoundStatus]) -> str:
    """A line chart per metric that changes; a metric that never changes is one sentence
    (a flat line says less and takes a screen)."""
    ordered = sorted(rounds, key=lambda r: r.number)
    charts, constant = [], []
    for name in _metric_names(r.metrics for r in ordered):
        points = [(r.number, r.metrics[name]) for r in ordered if _finite(r.metrics.get(name))]
        if len({v for _, v in points}) == 1 and len(points) >= 2:
            constant.append(f"- {_cell(name)}: {_number(points[0][1])} in every round")
        elif len(points) >= 2:
            charts.append(_chart(name, points))
    if not charts and not constant:
        return ""
    blocks = charts[:_MAX_CHARTS] + (["\n".join(constant)] if constant else [])
    return "\n\n".join(["## Metrics per round", *blocks])


def _chart(name: str, points: list[tuple[int, float]]) -> str:
    label = name.replace('"', "'")
    rounds = ", ".join(f'"{n}"' for n, _ in points)
    values = ", ".join(_plain(v) for _, v in points)
    return "\n".join([
        "```mermaid",
        *_CHART_CONFIG,
        "xychart-beta",
        f'    title "{label} per round"',
        f'    x-axis "round" [{rounds}]',
        f'    y-axis "{label}"',
        f"    line [{values}]",
        "```",
    ])  # fmt: skip


def _artifact(artifact: ArtifactStatus | None) -> str:
    if artifact is None:
        return ""
    return "\n".join([
        "## Model artifact",
        "",
        f"- URI: `{artifact.uri}`",
        f"- sha256: `{artifact.sha256}`",
        f"- Size: {_size(artifact.size)}",
        f"- Format: {artifact.format}, from round {artifact.round}",
    ])  # fmt: skip


def _events(events: Sequence[EventStatus]) -> str:
    if not events:
        return ""
    rows = [[_time(e.time), f"`{e.type}`", e.summary or "-"] for e in events]
    return "\n".join(["## Recent events", "", *_table(["Time", "Type", "Details"], rows)])


def _problems(problems: Sequence[str]) -> str:
    if not problems:
        return ""
    items = ["- `" + p.replace("`", "'") + "`" for p in problems]
    return "\n".join(["## Spec problems", "", *items])


def _metric_names(all_metrics: Iterable[Mapping[str, float]]) -> list[str]:
    """Accuracy-like first, then loss-like, then the rest, each alphabetically."""
    names = {name for metrics in all_metrics for name in metrics}

    def rank(name: str) -> tuple[int, str]:
        lowered = name.lower()
        return (0 if "acc" in lowered else 1 if "loss" in lowered else 2, name)

    return sorted(names, key=rank)


def _table(headers: list[str], rows: list[list[str]]) -> list[str]:
    lines = [_table_line(headers), "|" + "|".join("---" for _ in headers) + "|"]
    return lines + [_table_line(row) for row in rows]


def _table_line(cells: list[str]) -> str:
    return "| " + " | ".join(_cell(c) for c in cells) + " |"


def _cell(text: str) -> str:
    return " ".join(text.split()).replace("|", "\\|")


def _phase(phase: Phase | ReportPhase) -> str:
    return f"{_PHASE_MARK[phase]} {phase.value}"


def _round_progress(status: FederationStatus) -> str:
    return f"{status.current_round}/{status.total_rounds}"


def _condition_status(status: FederationStatus, kind: ConditionType) -> str:
    return next((c.status for c in status.conditions if c.type is kind), "-")


def _metric_summary(metrics: Mapping[str, float]) -> str:
    names = _metric_names([metrics])[:2]
    return ", ".join(f"{n} {_number(metrics[n])}" for n in names) or "-"


def _number(value: float | None) -> str:
    if value is None:
        return "-"
    if not _finite(value):
        return str(value)
    return format(float(value), ".4g")


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _time(moment: datetime | None) -> str:
    return rfc3339(moment) or "-"


def _plain(value: float) -> str:
    """Fixed-point text for chart data (Mermaid reads no exponents)."""
    text = format(value, ".6f").rstrip("0").rstrip(".")
    return "0" if text in ("", "-0") else text


def _size(size: int) -> str:
    for unit, scale in (("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if size >= scale:
            return f"{size / scale:.1f} {unit} ({size} bytes)"
    return f"{size} bytes"
