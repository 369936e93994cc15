"""`reconciler logs NAME [-f] [--superlink HOST:PORT] [--run ID | --all]`: Flower run logs.

The SuperLink is the one the daemon recorded in the database when it started (a local
SuperLink's port is picked at start), unless `--superlink` names another. With `--demo`,
the logs `make demo` saved before it stopped its SuperLink.

TLS to the SuperLink as for `reconciler run`: `--flower-ca-file` (or
$THUNDERLINE_FLOWER_CA_FILE), `--flower-insecure`, else plaintext only to loopback. A daemon
that drives several SuperLinks records each run with its target: give the same
`--flower-target NAME=HOST:PORT[,ca=FILE|,insecure]` items (or $THUNDERLINE_FLOWER_TARGETS),
and each run's log is read from the SuperLink it ran on (`--superlink`: the target "default").

Looks the federation's runs up in the store (NAME is `tenant/name` or a bare name) and
prints the log of the newest one (`--all`: every run, oldest first; `--run`: that one)
as the SuperLink keeps it: the ServerApp's own output, tracebacks included. Works for the
built-in app and for a team's own app alike. `-f` keeps printing new lines until the run
finishes (or Ctrl-C). Flower's colour codes are kept only when stdout is a terminal and
$NO_COLOR is unset. Exit codes: 0 printed, 1 no such federation or run, 2 database or
SuperLink error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import threading
from contextlib import ExitStack
from typing import TYPE_CHECKING

from reconciler.cli.common import (
    DEMO_LOGS,
    add_database_argument,
    add_flower_tls_arguments,
    fail,
    flower_transport,
    open_store,
)
from reconciler.cli.federation import NameNotFound, resolve
from reconciler.model import DEFAULT_TARGET

if TYPE_CHECKING:
    from collections.abc import Mapping

    from reconciler.model import FederationKey
    from reconciler.runtime.flower import FlowerRuntime
    from reconciler.store import RunRecord, Store

DEFAULT_SUPERLINK = "127.0.0.1:8000"
FOLLOW_POLL = 1.0  # seconds between looks at a followed run
_ANSI = re.compile(r"\x1b\[[0-9;?]*[ -/]*[@-~]")


class LogsError(Exception):
    """The request names nothing that can be shown (exit 1)."""


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "logs",
        help="print a federation's Flower run logs",
        description="Print the Flower logs of a federation's newest run (or of every run).",
    )
    parser.add_argument("name", metavar="NAME", help="tenant/name or a bare name")
    parser.add_argument(
        "--superlink",
        metavar="HOST:PORT",
        help="the SuperLink the runs ran on (default: the one the daemon recorded in the "
        f"database, else {DEFAULT_SUPERLINK})",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=int, metavar="ID", help="one run of this federation")
    which.add_argument("--all", action="store_true", help="every run, oldest first")
    parser.add_argument(
        "--follow", "-f", action="store_true", help="keep printing new lines until the run ends"
    )
    parser.add_argument(
        "--flower-target",
        action="append",
        default=[],
        metavar="NAME=HOST:PORT[,ca=FILE|,insecure]",
        help="a SuperLink the daemon names for spec.target (repeatable; default: "
        "$THUNDERLINE_FLOWER_TARGETS)",
    )
    add_database_argument(parser)
    add_flower_tls_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.runtime.base import RuntimeFailure
    from reconciler.store import StoreError

    if args.demo:
        return show_saved_logs(args)
    try:
        address = args.superlink or recorded_superlink(args)
    except StoreError as exc:
        return fail("logs", exc)
    with ExitStack() as stack:
        try:  # first, so that TLS options that cannot work are named before anything else
            drivers = open_targets(args, address, stack)
        except (RuntimeFailure, ValueError) as exc:
            return fail("logs", exc)
        return show_logs(drivers, args)


def open_targets(
    args: argparse.Namespace, address: str, stack: ExitStack
) -> dict[str, FlowerRuntime]:
    """A driver for `address` (the target "default") and one per `--flower-target`."""
    from reconciler.runtime.flower import FlowerRuntime
    from reconciler.runtime.targets import parse_targets, targets_in_env, transport_of

    drivers = {DEFAULT_TARGET: FlowerRuntime(address, transport=flower_transport(args, address))}
    stack.callback(drivers[DEFAULT_TARGET].close)
    for target in parse_targets(args.flower_target or targets_in_env(os.environ)):
        driver = FlowerRuntime(target.address, transport=transport_of(target), name=target.name)
        stack.callback(driver.close)
        drivers[target.name] = driver  # a target named "default" stands for --superlink
    return drivers


def runs_asked(args: argparse.Namespace) -> list[RunRecord] | int:
    """The recorded runs NAME, `--run` and `--all` ask for, oldest first; or the exit code
    when there are none (1) or the store cannot be read (2), said on stderr."""
    from reconciler.store import StoreError

    try:
        with open_store(args, create=False, announce=False) as store:
            key = resolve(store, args.name)
            return select_runs(store, key, run_id=args.run, every=args.all)
    except (LogsError, NameNotFound) as exc:
        print(f"reconciler logs: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        return fail("logs", exc)


def show_saved_logs(args: argparse.Namespace) -> int:
    """`--demo`: the logs the demo saved before it stopped its SuperLink."""
    runs = runs_asked(args)
    if isinstance(runs, int):
        return runs
    for record in runs:
        saved = DEMO_LOGS / f"{record.run_id}.log"
        if not saved.is_file():
            print(
                f"reconciler logs: no saved log for run {record.run_id} ({saved})",
                file=sys.stderr,
            )
            return 1
        if len(runs) > 1:
            print(f"==> Flower run {record.run_id} <==")
        text = saved.read_text()
        sys.stdout.write(_ANSI.sub("", text) if plain_output() else text)
    return 0


def recorded_superlink(args: argparse.Namespace) -> str:
    """The Control API address the daemon recorded (a local SuperLink's port is picked at
    start), else the default."""
    from reconciler.store.endpoints import SUPERLINK

    with open_store(args, create=False, announce=False) as store:
        return store.endpoint(SUPERLINK) or DEFAULT_SUPERLINK


def show_logs(drivers: Mapping[str, FlowerRuntime], args: argparse.Namespace) -> int:
    from reconciler.runtime.base import RuntimeFailure

    runs = runs_asked(args)
    if isinstance(runs, int):
        return runs
    try:
        clean = plain_output()
        printed = [
            print_run(
                driver_of(drivers, r), r.run_id, header=len(runs) > 1, plain=clean, target=r.target
            )
            for r in runs
        ]
        if args.follow:
            last = runs[-1]
            follow_run(
                driver_of(drivers, last),
                last.run_id,
                printed=printed[-1],
                plain=clean,
                target=last.target,
            )
    except RuntimeFailure as exc:
        return fail("logs", exc)
    return 0


def select_runs(
    store: Store, key: FederationKey, *, run_id: int | None, every: bool
) -> list[RunRecord]:
    """Runs to print, oldest first."""
    runs = store.runs(key)
    if run_id is not None:
        chosen = [r for r in runs if r.run_id == run_id]
        if not chosen:
            raise LogsError(f"run {run_id} is not a run of {key}")
        return chosen
    if not runs:
        raise LogsError(f"{key} has no Flower run yet")
    return runs if every else runs[-1:]


def driver_of(drivers: Mapping[str, FlowerRuntime], record: RunRecord) -> FlowerRuntime:
    """The SuperLink the run ran on; RuntimeFailure when its target is not configured."""
    from reconciler.runtime.base import RuntimeFailure

    driver = drivers.get(record.target)
    if driver is None:
        known = ", ".join(drivers)
        raise RuntimeFailure(
            f"run {record.run_id} ran on Flower target {record.target!r}, which is not "
            f"configured (configured: {known}): give it with --flower-target NAME=HOST:PORT"
        )
    return driver


def plain_output() -> bool:
    """Strip colour codes: stdout is no terminal, or $NO_COLOR asks for none."""
    return bool(os.environ.get("NO_COLOR")) or not sys.stdout.isatty()


def print_run(
    runtime: FlowerRuntime, run_id: int, *, header: bool, plain: bool, target: str = DEFAULT_TARGET
) -> int:
    """Print the run's log as it is now; the number of lines printed."""
    if header:
        print(f"==> Flower run {run_id} <==")
    lines = runtime.logs(run_id, target=target)
    for line in lines:
        print(_ANSI.sub("", line) if plain else line)
    if not lines:
        print(f"(no log lines for run {run_id} yet)", file=sys.stderr)
    return len(lines)


def follow_run(
    runtime: FlowerRuntime,
    run_id: int,
    *,
    printed: int,
    plain: bool,
    poll: float = FOLLOW_POLL,
    stop: threading.Event | None = None,
    target: str = DEFAULT_TARGET,
) -> None:
    """Print lines the run adds past the first `printed` until it is finished (then once
    more) or `stop` is set. The SuperLink hands out the whole log each time."""
    stop = stop or threading.Event()
    finished = False
    while not finished and not stop.wait(poll):
        finished = runtime.status(run_id)[0] == "finished"
        lines = runtime.logs(run_id, target=target)
        for line in lines[printed:]:
            print(_ANSI.sub("", line) if plain else line, flush=True)
        printed = max(printed, len(lines))
