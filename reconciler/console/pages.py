"""What each console page shows, built from store records: pure functions, no I/O.

The routes read the store and the daemon, hand the records here, and render the result with
a template (HTML) or as JSON (the API); both read the same models, so the page and the API
never disagree. Spec content is untrusted: it is carried as plain strings here and escaped
by the templates; sensitive fields are masked before a document leaves this module.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import quote, urlsplit

import yaml

from reconciler.console.charts import Chart, line_chart
from reconciler.lineage import current_line
from reconciler.model import Condition, FederationKey, Phase, RecordedFederation
from reconciler.plan import Plan
from reconciler.plan.fields import SENSITIVE, SENSITIVE_PREFIXES
from reconciler.store import ArtifactRecord, Event, RoundRecord, RunRecord
from reconciler.store.views import GenerationRecord, ListPage, ListRow

# The metric a list row shows: the first of these a round reported, else the first by name.
HEADLINE_METRICS = ("accuracy", "eval_accuracy", "val_accuracy", "loss", "eval_loss")


def federation_href(key: FederationKey) -> str:
    return f"/federations/{quote(key.tenant, safe='')}/{quote(key.name, safe='')}"


def age(since: datetime, now: datetime) -> str:
    """'42s', '5m', '3h', '2d': how long ago `since` was."""
    seconds = max(0, int((now - since).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def numeric(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The metrics that are finite numbers (a round may also report strings or lists)."""
    found: dict[str, float] = {}
    for name, value in metrics.items():
        number = isinstance(value, int | float) and not isinstance(value, bool)
        if number and math.isfinite(value):
            found[name] = float(value)
    return found


def headline(metrics: Mapping[str, Any]) -> tuple[str, float] | None:
    values = numeric(metrics)
    for name in (*HEADLINE_METRICS, *sorted(values)):
        if name in values:
            return name, values[name]
    return None


def progress_percent(current: int, total: int) -> int:
    return 0 if total <= 0 else max(0, min(100, round(100 * current / total)))


# --- the list ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Row:
    key: FederationKey
    href: str
    phase: str
    reason: str
    current_round: int
    total_rounds: int
    percent: int
    metric: str  # "accuracy 0.913", or "" before a completed round
    age: str
    labels: tuple[tuple[str, str], ...]


def list_row(row: ListRow, now: datetime) -> Row:
    top = headline(row.last_metrics)
    return Row(
        key=row.key,
        href=federation_href(row.key),
        phase=str(row.phase),
        reason=row.reason,
        current_round=row.current_round,
        total_rounds=row.total_rounds,
        percent=progress_percent(row.current_round, row.total_rounds),
        metric=f"{top[0]} {top[1]:.4g}" if top else "",
        age=age(row.created_at, now),
        labels=tuple(sorted((str(k), str(v)) for k, v in row.labels.items())),
    )


@dataclass(frozen=True)
class ListModel:
    rows: tuple[Row, ...]
    total: int
    page: int
    pages: int
    first: int  # 1-based position of the first row shown (0 when none)
    last: int


def list_model(page: ListPage, now: datetime) -> ListModel:
    q = page.query
    pages = max(1, math.ceil(page.total / q.per_page))
    first = (q.page - 1) * q.per_page + 1 if page.rows else 0
    return ListModel(
        rows=tuple(list_row(r, now) for r in page.rows),
        total=page.total,
        page=q.page,
        pages=pages,
        first=first,
        last=first + len(page.rows) - 1 if page.rows else 0,
    )


# --- one federation ------------------------------------------------------------------------


def masked(document: Any, path: str = "") -> Any:
    """`document` with the values of sensitive fields replaced, as the plan shows them."""
    if any(path == p or path.startswith(p + ".") for p in SENSITIVE_PREFIXES):
        return SENSITIVE
    if isinstance(document, Mapping):
        return {str(k): masked(v, f"{path}.{k}" if path else str(k)) for k, v in document.items()}
    if isinstance(document, list):
        return [masked(v, path) for v in document]
    return document


def spec_yaml(document: Mapping[str, Any]) -> str:
    return yaml.safe_dump(masked(document), sort_keys=False, allow_unicode=True)


def spec_diff(before: Mapping[str, Any] | None, after: Mapping[str, Any]) -> str:
    """A unified diff of the previous generation's spec against this one ('' for the first)."""
    if before is None:
        return ""
    lines = difflib.unified_diff(
        spec_yaml(before).splitlines(),
        spec_yaml(after).splitlines(),
        "before",
        "after",
        lineterm="",
    )
    return "\n".join(lines)


def git_file_url(repo_url: str | None, revision: str | None, path: str) -> str | None:
    """A link to `path` at `revision` on a GitHub/GitLab/Gitea-style web host, or None when
    the repository is not an https URL (a local path, ssh). Credentials never go into it."""
    if not repo_url or not revision:
        return None
    parts = urlsplit(repo_url)
    if parts.scheme != "https" or not parts.hostname:
        return None
    host = parts.hostname + (f":{parts.port}" if parts.port else "")
    repo = parts.path.rstrip("/").removesuffix(".git")
    middle = "/-/blob/" if "gitlab" in host else "/blob/"
    return f"https://{host}{repo}{middle}{quote(revision)}/{quote(path)}"


@dataclass(frozen=True)
class Attempt:
    number: int
    how: str  # start | resume | recovery
    run_id: int
    status: str
    started: datetime


@dataclass(frozen=True)
class Generation:
    number: int
    how: str  # created | updated in place | replaced
    digest: str
    recorded_at: datetime | None
    attempts: tuple[Attempt, ...]


def _attempt_how(run: RunRecord, events: Sequence[Event]) -> str:
    for e in events:
        if e.generation == run.generation and e.payload.get("attempt") == run.attempt:
            if e.type == "fl.federation.resumed":
                return "resume"
            if e.type == "fl.federation.started":
                return "start" if run.attempt == 1 else "recovery"
    return "start" if run.attempt == 1 else "recovery"


def lineage(
    generations: Sequence[GenerationRecord], runs: Sequence[RunRecord], events: Sequence[Event]
) -> tuple[Generation, ...]:
    """Generations oldest first, each with the Flower runs (attempts) launched for it."""
    updated = {e.generation for e in events if e.type == "fl.federation.updated"}
    numbers = sorted({g.generation for g in generations} | {r.generation for r in runs})
    by_number = {g.generation: g for g in generations}
    out = []
    for n in numbers:
        record = by_number.get(n)
        how = "created" if n == 1 else "updated in place" if n in updated else "replaced"
        attempts = tuple(
            Attempt(r.attempt, _attempt_how(r, events), r.run_id, r.status, r.created_at)
            for r in runs
            if r.generation == n
        )
        out.append(
            Generation(
                n,
                how,
                record.digest if record else "",
                record.recorded_at if record else None,
                attempts,
            )
        )
    return tuple(out)


def metric_charts(rounds: Sequence[RoundRecord]) -> tuple[Chart, ...]:
    """One chart per metric over the current training line's completed rounds."""
    done = [r for r in current_line(rounds) if r.status == "completed"]
    names = sorted({name for r in done for name in numeric(r.metrics)})
    return tuple(
        line_chart(
            name,
            [
                (
                    name,
                    [
                        (r.number, numeric(r.metrics)[name])
                        for r in done
                        if name in numeric(r.metrics)
                    ],
                )
            ],
        )
        for name in names
    )


def compare_charts(curves: Mapping[FederationKey, Sequence[RoundRecord]]) -> tuple[Chart, ...]:
    """One chart per metric any of the federations reported, a series per federation."""
    lines = {
        key: [r for r in current_line(rs) if r.status == "completed"] for key, rs in curves.items()
    }
    names = sorted({n for done in lines.values() for r in done for n in numeric(r.metrics)})
    charts = []
    for name in names:
        series = [
            (
                str(key),
                [(r.number, numeric(r.metrics)[name]) for r in done if name in numeric(r.metrics)],
            )
            for key, done in lines.items()
        ]
        charts.append(line_chart(name, series))
    return tuple(charts)


@dataclass(frozen=True)
class Change:
    """A change a person would make by committing it: the console never acts itself."""

    what: str  # "pause", "resume", "stop"
    line: str  # the YAML to commit under `spec:`


def changes_to_commit(phase: Phase) -> tuple[Change, ...]:
    if phase.terminal:
        return ()
    if phase is Phase.PAUSED:
        return (Change("resume", "paused: false"), Change("stop", "stop: true"))
    return (Change("pause", "paused: true"), Change("stop", "stop: true"))


@dataclass(frozen=True)
class Detail:
    record: RecordedFederation
    href: str
    conditions: tuple[Condition, ...]
    charts: tuple[Chart, ...]
    rounds: tuple[RoundRecord, ...]  # newest first
    events: tuple[Event, ...]  # newest first
    lineage: tuple[Generation, ...]
    artifacts: tuple[ArtifactRecord, ...]
    runs: tuple[RunRecord, ...]
    spec: str  # YAML, sensitive fields masked
    diff: str  # against the previous generation's spec
    spec_url: str | None  # the file in Git at the revision it was loaded at
    revision: str
    percent: int
    changes: tuple[Change, ...] = field(default=())


def detail(
    record: RecordedFederation,
    *,
    rounds: Sequence[RoundRecord],
    events: Sequence[Event],
    generations: Sequence[GenerationRecord],
    runs: Sequence[RunRecord],
    artifacts: Sequence[ArtifactRecord],
    conditions: Iterable[Condition] = (),
    revision: str = "",
    repo_url: str | None = None,
) -> Detail:
    docs = {g.generation: g.document for g in generations}
    previous = docs.get(record.generation - 1)
    return Detail(
        record=record,
        href=federation_href(record.key),
        conditions=tuple(conditions),
        charts=metric_charts(rounds),
        rounds=tuple(reversed(rounds)),
        events=tuple(sorted(events, key=lambda e: e.id, reverse=True)),
        lineage=lineage(generations, runs, events),
        artifacts=tuple(sorted(artifacts, key=lambda a: (a.generation, a.round), reverse=True)),
        runs=tuple(runs),
        spec=spec_yaml(record.document),
        diff=spec_diff(previous, record.document),
        spec_url=git_file_url(repo_url, revision, record.path),
        revision=revision,
        percent=progress_percent(record.current_round, record.total_rounds),
        changes=changes_to_commit(record.phase),
    )


@dataclass(frozen=True)
class LogTail:
    """The last lines of one Flower run's log, as the SuperLink keeps it."""

    key: FederationKey
    run_id: int | None
    runs: tuple[int, ...]  # every run of the federation, oldest first
    lines: tuple[str, ...]
    note: str  # why there are no lines, when there are none


# --- the plan ------------------------------------------------------------------------------


@dataclass(frozen=True)
class PlannedAction:
    marker: str
    kind: str
    key: FederationKey
    href: str
    reason: str
    lines: tuple[str, ...]  # field changes and FILE:LINE:COL problems


@dataclass(frozen=True)
class PlanModel:
    revision: str
    summary: str
    actions: tuple[PlannedAction, ...]
    invalid_files: tuple[str, ...]


def plan_model(plan: Plan) -> PlanModel:
    actions = tuple(
        PlannedAction(
            a.kind.marker,
            str(a.kind),
            a.key,
            federation_href(a.key),
            a.reason,
            tuple(f"{c.path}: {c.old!r} -> {c.new!r}" for c in a.changes)
            + tuple(map(str, a.problems)),
        )
        for a in plan.actions
    )
    summary = plan.summary() if plan.actions or plan.unclaimed_problems else "no changes"
    return PlanModel(
        plan.revision or "", summary, actions, tuple(map(str, plan.unclaimed_problems))
    )
