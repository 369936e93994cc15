"""`reconciler wait NAME --for phase=Completed [--timeout 10m]`: block until a phase is reached.

Polls the store (no daemon connection needed). `--for` takes one or more phases separated
by commas (`phase=Completed,Failed`); a finished phase that is not one of them ends the wait
at once, since it will not change by itself.
Exit codes: 0 reached, 1 the federation finished in another phase (or NAME names no single
federation), 2 database or usage error, 3 timed out, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from typing import TYPE_CHECKING

from reconciler.cli.common import add_database_argument, fail, open_store

if TYPE_CHECKING:
    from reconciler.model import FederationKey, Phase
    from reconciler.store import Store

EXIT_TIMEOUT = 3
_UNITS = {"s": 1, "m": 60, "h": 3600}


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "wait",
        help="wait until a federation reaches a phase",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("name", metavar="NAME", help="tenant/name or a bare name")
    parser.add_argument(
        "--for",
        dest="condition",
        required=True,
        metavar="phase=PHASE[,PHASE]",
        help="the phase(s) to wait for, e.g. phase=Completed",
    )
    parser.add_argument(
        "--timeout",
        type=duration,
        default="10m",
        metavar="DURATION",
        help="give up after this long: 90, 90s, 5m, 1h (default: %(default)s)",
    )
    parser.add_argument("--poll", type=float, default=1.0, help=argparse.SUPPRESS)
    add_database_argument(parser)
    parser.set_defaults(handler=run)


def duration(text: str) -> float:
    """Seconds from `90`, `90s`, `5m` or `1h` (argparse type)."""
    number, unit = (text[:-1], text[-1]) if text[-1:] in _UNITS else (text, "s")
    try:
        seconds = float(number) * _UNITS[unit]
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a duration: {text!r}") from None
    if seconds < 0:
        raise argparse.ArgumentTypeError(f"a duration cannot be negative: {text!r}")
    return seconds


def wanted_phases(condition: str) -> frozenset[Phase]:
    """The phases `phase=A,B` names; ValueError naming what is wrong."""
    from reconciler.model import Phase

    field, _, value = condition.partition("=")
    if field != "phase" or not value:
        raise ValueError(f"--for must be phase=PHASE, not {condition!r}")
    by_name = {p.value.lower(): p for p in Phase}
    unknown = [v for v in value.split(",") if v.strip().lower() not in by_name]
    if unknown:
        known = ", ".join(p.value for p in Phase)
        raise ValueError(f"unknown phase {unknown[0]!r} (one of {known})")
    return frozenset(by_name[v.strip().lower()] for v in value.split(","))


def run(args: argparse.Namespace) -> int:
    from reconciler.cli.federation import NameNotFound, resolve
    from reconciler.store import StoreError

    try:
        wanted = wanted_phases(args.condition)
    except ValueError as exc:
        print(f"reconciler wait: {exc}", file=sys.stderr)
        return 2
    try:
        with open_store(args, create=False, announce=False) as store:
            key = resolve(store, args.name)
            return wait_for(store, key, wanted, timeout=args.timeout, poll=args.poll)
    except NameNotFound as exc:
        print(f"reconciler wait: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        return fail("wait", exc)


def wait_for(
    store: Store,
    key: FederationKey,
    wanted: frozenset[Phase],
    *,
    timeout: float,
    poll: float,
    stop: threading.Event | None = None,
) -> int:
    """Poll `key`'s phase until it is in `wanted` (0), finished otherwise (1) or `timeout`
    passes (3); says which on stdout or stderr."""
    stop = stop or threading.Event()
    deadline = time.monotonic() + timeout
    while True:
        [row] = store.status_rows(key)
        if row.phase in wanted:
            print(f"{key}: {row.phase.value}")
            return 0
        if row.phase.terminal:
            print(f"reconciler wait: {key} ended {row.phase.value}: {row.reason}", file=sys.stderr)
            return 1
        left = deadline - time.monotonic()
        if left <= 0 or stop.wait(min(poll, left)):
            print(
                f"reconciler wait: timed out: {key} is {row.phase.value}, not "
                + "/".join(sorted(p.value for p in wanted)),
                file=sys.stderr,
            )
            return EXIT_TIMEOUT
