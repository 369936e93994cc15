"""`reconciler logs NAME [--superlink HOST:PORT] [--run ID | --all]`: a federation's Flower logs.

TLS to the SuperLink as for `reconciler run`: `--flower-ca-file` (or
$THUNDERLINE_FLOWER_CA_FILE), `--flower-insecure`, else plaintext only to loopback. A daemon
that drives several SuperLinks records each run with its target: give the same
`--flower-target NAME=HOST:PORT[,ca=FILE|,insecure]` items (or $THUNDERLINE_FLOWER_TARGETS),
and each run's log is read from the SuperLink it ran on (`--superlink`: the target "default").

Looks the federation's runs up in the store (NAME is `tenant/name` or a bare name) and
prints the log of the newest one (`--all`: every run, oldest first; `--run`: that one)
as the SuperLink keeps it: the ServerApp's own output, tracebacks included. Works for the
built-in app and for a team's own app alike. Exit codes: 0 printed, 1 no such federation
or run, 2 database or SuperLink error.
"""

from __future__ import annotations

import argparse
import os
import sys
from contextlib import ExitStack
from typing import TYPE_CHECKING

from reconciler.cli.common import (
    add_database_argument,
    add_flower_tls_arguments,
    fail,
    flower_transport,
    open_store,
)

if TYPE_CHECKING:
    from reconciler.model import FederationKey
    from reconciler.runtime.base import Runtime
    from reconciler.store import RunRecord, Store

DEFAULT_SUPERLINK = "127.0.0.1:8000"


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
        default=DEFAULT_SUPERLINK,
        metavar="HOST:PORT",
        help=f"the SuperLink the runs ran on (default: {DEFAULT_SUPERLINK})",
    )
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--run", type=int, metavar="ID", help="one run of this federation")
    which.add_argument("--all", action="store_true", help="every run, oldest first")
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

    with ExitStack() as stack:
        try:  # first, so that TLS options that cannot work are named before anything else
            runtime = open_targets(args, stack)
        except (RuntimeFailure, ValueError) as exc:
            return fail("logs", exc)
        return show_logs(runtime, args)


def open_targets(args: argparse.Namespace, stack: ExitStack) -> Runtime:
    """A driver for `--superlink` (the target "default") and one per `--flower-target`."""
    from reconciler.model import DEFAULT_TARGET
    from reconciler.runtime.flower import FlowerRuntime
    from reconciler.runtime.targets import (
        TargetRuntimes,
        parse_targets,
        targets_in_env,
        transport_of,
    )

    transport = flower_transport(args, args.superlink)
    drivers = {DEFAULT_TARGET: FlowerRuntime(args.superlink, transport=transport)}
    stack.callback(drivers[DEFAULT_TARGET].close)
    for target in parse_targets(args.flower_target or targets_in_env(os.environ)):
        driver = FlowerRuntime(target.address, transport=transport_of(target), name=target.name)
        stack.callback(driver.close)
        drivers[target.name] = driver  # a target named "default" stands for --superlink
    return TargetRuntimes(drivers)


def show_logs(runtime: Runtime, args: argparse.Namespace) -> int:
    from reconciler.runtime.base import RuntimeFailure
    from reconciler.store import StoreError

    try:
        with open_store(args, create=False, announce=False) as store:
            key = find_federation(store, args.name)
            runs = select_runs(store, key, run_id=args.run, every=args.all)
    except LogsError as exc:
        print(f"reconciler logs: {exc}", file=sys.stderr)
        return 1
    except StoreError as exc:
        return fail("logs", exc)
    try:
        for record in runs:
            print_run(runtime, record, header=len(runs) > 1)
    except RuntimeFailure as exc:
        return fail("logs", exc)
    return 0


def find_federation(store: Store, name: str) -> FederationKey:
    keys = sorted({row.key for row in store.status_rows(name)})
    if not keys:
        raise LogsError(f"no federation named {name!r} is recorded")
    if len(keys) > 1:
        names = ", ".join(str(k) for k in keys)
        raise LogsError(f"{name!r} names several federations ({names}); write tenant/name")
    return keys[0]


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


def print_run(runtime: Runtime, record: RunRecord, *, header: bool) -> None:
    run_id = record.run_id
    if header:
        print(f"==> Flower run {run_id} <==")
    lines = runtime.logs(run_id, target=record.target)
    for line in lines:
        print(line)
    if not lines:
        print(f"(no log lines for run {run_id} yet)", file=sys.stderr)
