"""`reconciler status [NAME]`: a table of the recorded federations (or JSON).

Reads the store only: phase, round x/N, the last completed round's metrics, the latest
model artifact and the age of each federation; then the specs that never became a
federation (phase `Invalid` with every problem, or `Pending` while queued) and, in text, the
last error of each daemon step. NAME is `tenant/name` or a bare name.
Exit codes: 0 shown, 1 NAME neither recorded nor reported, 2 database error.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.cli.common import add_database_argument, fail, open_store

if TYPE_CHECKING:
    from reconciler.store import StatusRow
    from reconciler.store.findings import SpecFindingRow, StepErrorRow

_HEADERS = ("TENANT", "NAME", "PHASE", "ROUND", "LAST METRICS", "ARTIFACT", "AGE")


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show recorded federations",
        description="Show the recorded state of every federation, or of NAME.",
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="tenant/name or a bare name")
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text")
    add_database_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.store import StoreError

    try:
        with open_store(args, create=False, announce=False) as store:
            rows = store.status_rows(args.name)
            specs = store.spec_findings(args.name)
            errors = [] if args.name else store.step_errors()
    except StoreError as exc:
        return fail("status", exc)
    if args.name and not rows and not specs:
        print(f"reconciler status: no federation named {args.name!r} is recorded", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    if args.output == "json":
        listed = [_as_json(row) for row in rows] + [_finding_json(spec) for spec in specs]
        print(json.dumps(listed, indent=2))
        return 0
    cells = [_as_cells(row, now) for row in rows] + [_finding_cells(spec) for spec in specs]
    print(render_table(cells) if cells else "No federations recorded.")
    for block in (render_problems(specs), render_errors(errors)):
        if block:
            print(f"\n{block}")
    return 0


def render_problems(specs: Sequence[SpecFindingRow]) -> str:
    """Every problem of each spec that has no federation, located FILE:LINE:COL."""
    lines = []
    for spec in specs:
        lines.append(f"{spec.key} ({spec.phase}, {spec.reason}): {spec.message}")
        lines += [f"  {problem}" for problem in spec.problems]
    return "\n".join(lines)


def render_errors(errors: Sequence[StepErrorRow]) -> str:
    """The daemon's last error per step, failing or since recovered."""
    if not errors:
        return ""
    lines = ["LAST ERRORS"]
    for e in errors:
        state = (
            f"failing since {_stamp(e.since)} ({e.count}x)"
            if e.failing
            else f"recovered at {_stamp(e.last_seen)} (failed {e.count}x)"
        )
        lines.append(f"{e.step}: {state}: {e.message}")
    return "\n".join(lines)


def _stamp(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _finding_cells(spec: SpecFindingRow) -> list[str]:
    return [spec.key.tenant, spec.key.name, spec.phase, "-", "-", "-", "-"]


def _finding_json(spec: SpecFindingRow) -> dict[str, Any]:
    return {
        "tenant": spec.key.tenant,
        "name": spec.key.name,
        "phase": spec.phase,
        "reason": spec.reason,
        "recorded": False,
        "specPath": spec.path,
        "message": spec.message,
        "problems": list(spec.problems),
    }


def render_table(rows: Sequence[Sequence[str]]) -> str:
    widths = [max(len(r[i]) for r in (_HEADERS, *rows)) for i in range(len(_HEADERS))]
    lines = [
        "  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in (_HEADERS, *rows)
    ]
    return "\n".join(line.rstrip() for line in lines)


def _as_cells(row: StatusRow, now: datetime) -> list[str]:
    return [
        row.key.tenant,
        row.key.name,
        row.phase.value,
        f"{row.current_round}/{row.total_rounds}",
        format_metrics(row.last_metrics) or "-",
        row.artifact_uri or "-",
        format_age(now - row.created_at),
    ]


def format_metrics(metrics: Mapping[str, Any], limit: int = 3) -> str:
    """`accuracy=0.9312 loss=0.2101`: the first few metrics, numbers to 4 significant digits."""
    shown = [
        f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in sorted(metrics.items())
    ]
    return " ".join(shown[:limit]) + (" ..." if len(shown) > limit else "")


def format_age(delta: timedelta) -> str:
    """kubectl-style age: 42s, 5m, 3h, 12d."""
    seconds = max(0, int(delta.total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("m", 60)):
        if seconds >= size:
            return f"{seconds // size}{unit}"
    return f"{seconds}s"


def _as_json(row: StatusRow) -> dict[str, Any]:
    return {
        "tenant": row.key.tenant,
        "name": row.key.name,
        "phase": row.phase.value,
        "reason": row.reason,
        "generation": row.generation,
        "observedGeneration": row.observed_generation,
        "round": {"current": row.current_round, "total": row.total_rounds},
        "lastMetrics": dict(row.last_metrics),
        "artifact": (
            {"uri": row.artifact_uri, "sha256": row.artifact_sha256} if row.artifact_uri else None
        ),
        "createdAt": row.created_at.isoformat(),
        "updatedAt": row.updated_at.isoformat(),
    }
