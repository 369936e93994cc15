"""`reconciler status [NAME]` and `reconciler describe NAME`: recorded federations.

Without NAME: a table of every federation (phase, round x/N, the last completed round's
metrics, age; `-o wide` adds the generation and the latest checkpoint), then the specs that
never became a federation (phase `Invalid` with every problem, or `Pending` while queued)
and the last error of each daemon step. With NAME (`tenant/name` or a bare name naming one
federation): that federation in detail (`describe` is the same): conditions, best round,
checkpoint, rounds, runs and recent events; `-o json|yaml` is then one object.
`--watch` prints again whenever what is shown changes (JSON Lines for -o json).
Exit codes: 0 shown, 1 NAME neither recorded nor reported, 2 database error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import re
import sys
import threading
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

from reconciler.cli.common import add_database_argument, fail, open_store
from reconciler.cli.output import JSON, TEXT, WIDE, YAML, add_output_argument, dump, dump_line
from reconciler.cli.remote import ApiError, RemoteStatus, add_server_arguments

if TYPE_CHECKING:
    from reconciler.store import StatusRow, Store
    from reconciler.store.findings import SpecFindingRow, StepErrorRow

_AGES = re.compile(r"(?m)  \d+[smhd]$")  # the AGE column, last in the text tables
_HEADERS = ("TENANT", "NAME", "PHASE", "ROUND", "LAST METRICS", "AGE")
_WIDE_HEADERS = (*_HEADERS[:5], "GEN", "CHECKPOINT", "AGE")


class NotShown(Exception):
    """NAME names nothing recorded or reported (exit 1)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "status",
        help="show recorded federations, or one in detail",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument("name", nargs="?", metavar="NAME", help="tenant/name or a bare name")
    _add_common(parser)
    describe = subparsers.add_parser(
        "describe",
        help="show one federation in detail (status NAME)",
        description="Everything recorded about one federation: the same as `status NAME`.",
    )
    describe.add_argument("name", metavar="NAME", help="tenant/name or a bare name")
    _add_common(describe)


def _add_common(parser: argparse.ArgumentParser) -> None:
    add_output_argument(parser, (TEXT, WIDE, JSON, YAML))
    add_watch_arguments(parser)
    add_database_argument(parser)
    add_server_arguments(parser)
    parser.set_defaults(handler=run)


def add_watch_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--watch",
        "-w",
        action="store_true",
        help="keep watching: print again whenever the output changes, until Ctrl-C",
    )
    parser.add_argument(
        "--interval",
        type=float,
        default=2.0,
        metavar="SECONDS",
        help="with --watch, how often to look (default: %(default)s)",
    )


def run(args: argparse.Namespace) -> int:
    from reconciler.store import StoreError

    if args.server:
        return _run_remote(args)
    try:
        with open_store(args, create=False, announce=False) as store:
            if not args.watch:
                print(render(store, args.name, args.output))
                return 0
            watch(
                lambda: render(store, args.name, args.output, stream=True),
                streaming=args.output in (JSON, YAML),
                interval=args.interval,
            )
    except NotShown as exc:
        print(f"reconciler status: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        return fail("status", exc)
    return 0


def _run_remote(args: argparse.Namespace) -> int:
    """The list over the daemon's API (--server), rendered as the database's rows are."""
    if args.name:
        print("reconciler status: NAME is not served over --server yet", file=sys.stderr)
        return 2
    remote = RemoteStatus(args.server, args.token)

    def show(write: Callable[[Any, str], str] = dump) -> str:
        return render_list(*remote.status(), args.output, write=write)

    try:
        if not args.watch:
            print(show())
            return 0
        watch(
            lambda: show(dump_line),
            streaming=args.output in (JSON, YAML),
            interval=args.interval,
        )
    except ApiError as exc:
        return fail("status", exc)
    return 0


def watch(
    show: Callable[[], str],
    *,
    streaming: bool,
    interval: float,
    stop: threading.Event | None = None,
) -> None:
    """Print `show()` now and each time it changes, until `stop` is set (or Ctrl-C)."""
    stop = stop or threading.Event()
    last = None
    while True:
        text = show()
        if _AGES.sub("", text) != last:  # a row growing older is no change
            if last is not None and not streaming:
                print()
            print(text, flush=True)
            last = _AGES.sub("", text)
        if stop.wait(interval):
            return


def render(store: Store, name: str | None, fmt: str, *, stream: bool = False) -> str:
    """What `status` prints once: the list, or one federation when NAME names one.
    `stream`: json as one line, yaml as a document opened by `---` (for --watch)."""
    write = dump_line if stream else dump
    from reconciler.cli.federation import (
        NameNotFound,
        detail_document,
        load_detail,
        render_detail,
        resolve,
    )

    rows = store.status_rows(name)
    specs = store.spec_findings(name)
    if name and not rows and not specs:
        raise NotShown(f"no federation named {name!r} is recorded")
    if name and len(rows) == 1:
        detail = load_detail(store, resolve(store, name))
        if fmt in (JSON, YAML):
            return write(detail_document(detail), fmt)
        return render_detail(detail)
    if name and not rows and len(specs) == 1 and fmt in (JSON, YAML):
        return write(specs[0].to_json(), fmt)
    if name and len(rows) > 1 and fmt == TEXT:
        try:
            resolve(store, name)
        except NameNotFound as exc:
            print(f"reconciler status: {exc}; listing them", file=sys.stderr)
    return render_list(rows, specs, [] if name else store.step_errors(), fmt, write=write)


def render_list(
    rows: Sequence[StatusRow],
    specs: Sequence[SpecFindingRow],
    errors: Sequence[StepErrorRow],
    fmt: str,
    *,
    write: Callable[[Any, str], str] = dump,
) -> str:
    if fmt in (JSON, YAML):
        listed = [row.to_json() for row in rows] + [spec.to_json() for spec in specs]
        return write(listed, fmt)
    now = datetime.now(UTC)
    wide = fmt == WIDE
    headers = _WIDE_HEADERS if wide else _HEADERS
    cells = [_as_cells(row, now, wide=wide) for row in rows]
    cells += [_finding_cells(spec, len(headers)) for spec in specs]
    blocks = [table([headers, *cells]) if cells else "No federations recorded."]
    blocks += [b for b in (render_problems(specs), render_errors(errors)) if b]
    return "\n\n".join(blocks)


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


def _finding_cells(spec: SpecFindingRow, width: int) -> list[str]:
    return [spec.key.tenant, spec.key.name, spec.phase, *["-"] * (width - 3)]


def table(rows: Sequence[Sequence[str]]) -> str:
    """Left-aligned columns two spaces apart; the first row is the headers."""
    widths = [max(len(r[i]) for r in rows) for i in range(len(rows[0]))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) for r in rows]
    return "\n".join(line.rstrip() for line in lines)


def _as_cells(row: StatusRow, now: datetime, *, wide: bool) -> list[str]:
    cells = [
        row.key.tenant,
        row.key.name,
        row.phase.value,
        f"{row.current_round}/{row.total_rounds}",
        format_metrics(row.last_metrics) or "-",
    ]
    if wide:
        cells += [str(row.generation), row.artifact_uri or "-"]
    return [*cells, format_age(now - row.created_at)]


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
