"""`reconciler reconcile`: ask the running daemon for a cycle now, and wait for it.

Like `flux reconcile` or `argocd app sync`: the daemon fetches, plans and applies at once
instead of at its next poll. The daemon's address comes from the database (the daemon
records it at start; `--url` overrides), the token from $THUNDERLINE_API_TOKEN or the
daemon's `.thunderline/api.token`. The token goes only to https or to a loopback address.
Exit codes: 0 the cycle ran clean (or was requested, with --no-wait), 1 it ran with
errors, 2 no daemon, token or database, or the daemon refused, 3 timed out waiting.
"""

from __future__ import annotations

import argparse
import sys
import time
from typing import TYPE_CHECKING

from reconciler.cli.common import add_database_argument, fail, open_store
from reconciler.cli.remote import ApiError, call
from reconciler.cli.wait import EXIT_TIMEOUT, duration

if TYPE_CHECKING:
    from reconciler.store import Store
    from reconciler.store.history import CycleRecord

PATH = "/api/v1/reconcile"


ReconcileError = ApiError  # the request could not be made or was refused (exit 2)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "reconcile",
        help="ask the daemon for a cycle now",
        description=__doc__.split("\n\n", 1)[1] if __doc__ else None,
    )
    parser.add_argument(
        "--url",
        metavar="URL",
        help="the daemon's HTTP address (default: the one it recorded in the database)",
    )
    parser.add_argument(
        "--no-wait", action="store_true", help="return once requested (default: wait)"
    )
    parser.add_argument(
        "--timeout",
        type=duration,
        default="2m",
        metavar="DURATION",
        help="how long to wait for the cycle: 90, 90s, 5m (default: %(default)s)",
    )
    parser.add_argument("--poll", type=float, default=0.25, help=argparse.SUPPRESS)
    add_database_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.daemon.apitoken import ApiTokenUnusable, api_token
    from reconciler.store import StoreError

    try:
        with open_store(args, create=False, announce=False) as store:
            url = args.url or daemon_url(store)
            before = store.last_cycle()
            request_cycle(url, api_token(create=False))
            if args.no_wait:
                print(f"cycle requested from {url}")
                return 0
            cycle = await_cycle(store, after=before, timeout=args.timeout, poll=args.poll)
    except (ReconcileError, ApiTokenUnusable) as exc:
        print(f"reconciler reconcile: {exc}", file=sys.stderr)
        return 2
    except StoreError as exc:
        return fail("reconcile", exc)
    if cycle is None:
        print(f"reconciler reconcile: no cycle finished within {args.timeout:g}s", file=sys.stderr)
        return EXIT_TIMEOUT
    print(describe_cycle(cycle))
    return 1 if cycle.errors else 0


def daemon_url(store: Store) -> str:
    from reconciler.store.endpoints import HTTP

    url = store.endpoint(HTTP)
    if url is None:
        raise ReconcileError("no daemon has recorded its address here; is one running? (--url)")
    return url


def request_cycle(url: str, token: bytes, timeout: float = 10.0) -> None:
    """POST the request; ReconcileError for anything but 202 (the token is never shown)."""
    status, _ = call(url, PATH, token=token.decode(), method="POST", timeout=timeout)
    if status != 202:
        raise ReconcileError(f"the daemon at {url} answered {status}")


def await_cycle(
    store: Store, *, after: CycleRecord | None, timeout: float, poll: float
) -> CycleRecord | None:
    """The first cycle recorded after `after`, or None once `timeout` passes."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        cycle = store.last_cycle()
        if cycle is not None and (after is None or cycle.id > after.id):
            return cycle
        time.sleep(poll)
    return None


def describe_cycle(cycle: CycleRecord) -> str:
    seconds = (cycle.finished_at - cycle.started_at).total_seconds()
    at = cycle.revision[:12] if cycle.revision else "no revision"
    head = f"cycle {cycle.id} at {at}: {cycle.actions} action(s) in {seconds:.1f}s"
    if not cycle.errors:
        return f"{head}, no errors"
    return "\n".join([f"{head}, {len(cycle.errors)} error(s):", *(f"  {e}" for e in cycle.errors)])
