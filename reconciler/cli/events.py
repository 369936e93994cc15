"""`reconciler events [--federation NAME] [--follow]`: print the event outbox.

Reads the store only. Text is one event per line; `--output json` is JSON Lines (one object
per event), so `--follow` can stream either. `--follow` polls for new events until
interrupted. Exit codes: 0 done, 2 database error.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable
from datetime import UTC
from typing import TYPE_CHECKING

from reconciler.cli.common import add_database_argument, fail, open_store

if TYPE_CHECKING:
    from reconciler.store import Event, Store

PAGE = 1000


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "events",
        help="print recorded events",
        description="Print the event outbox, oldest first; --follow waits for new ones.",
    )
    parser.add_argument("--federation", metavar="NAME", help="tenant/name or a bare name")
    parser.add_argument("--follow", "-f", action="store_true", help="keep printing new events")
    parser.add_argument("--after", type=int, default=0, metavar="ID", help="start after event ID")
    parser.add_argument("--output", "-o", choices=("text", "json"), default="text")
    parser.add_argument(
        "--poll", type=float, default=1.0, metavar="SECONDS", help=argparse.SUPPRESS
    )
    add_database_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.store import StoreError

    emit = _json_line if args.output == "json" else format_text
    try:
        with open_store(args, create=False, announce=False) as store:
            stream(
                store,
                args.federation,
                after_id=args.after,
                emit=emit,
                follow=args.follow,
                poll=args.poll,
            )
    except StoreError as exc:
        return fail("events", exc)
    return 0


def stream(
    store: Store,
    federation: str | None,
    *,
    after_id: int,
    emit: Callable[[Event], str],
    follow: bool = False,
    poll: float = 1.0,
    stop: threading.Event | None = None,
) -> int:
    """Print events after `after_id`; with `follow`, keep polling until `stop` is set.

    Returns the id of the last event printed (or `after_id`).
    """
    stop = stop or threading.Event()
    while True:
        page = store.events(after_id=after_id, federation=federation, limit=PAGE)
        for event in page:
            print(emit(event), flush=True)
            after_id = event.id
        if len(page) < PAGE and (not follow or stop.wait(poll)):
            return after_id


def format_text(event: Event) -> str:
    when = event.time.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    where = str(event.key) if event.key else "-"
    payload = json.dumps(dict(event.payload), sort_keys=True, separators=(",", ":"))
    return f"{event.id:>6}  {when}  {event.type:<26} {where}  {payload}"


def _json_line(event: Event) -> str:
    return json.dumps(event.to_json(), sort_keys=True)
