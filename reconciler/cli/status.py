"""`reconciler status [NAME]`: a table of the recorded federations (or JSON).

Reads the store only: phase, round x/N, the last completed round's metrics, the latest
model artifact and the age of each federation. NAME is `tenant/name` or a bare name.
Exit codes: 0 shown, 1 NAME not recorded, 2 database error.
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
    except StoreError as exc:
        return fail("status", exc)
    if args.name and not rows:
        print(f"reconciler status: no federation named {args.name!r} is recorded", file=sys.stderr)
        return 1
    now = datetime.now(UTC)
    if args.output == "json":
        print(json.dumps([_as_json(row) for row in rows], indent=2))
    elif rows:
        print(render_table([_as_cells(row, now) for row in rows]))
    else:
        print("No federations recorded.")
    return 0


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
