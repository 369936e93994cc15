"""`reconciler events [--federation NAME] [--follow]`: print the event outbox.

Reads the store, or with `--server URL` the daemon's `GET /api/v1/events` (cli/remote.py),
printed by the same code. Text is one event per line; `-o json` is JSON Lines (one object per
event) and `-o yaml` one YAML document per event, so `--follow` can stream any of them; keys
are camelCase, payloads' included. `--follow` (or `--watch`) polls for new events until
interrupted. Exit codes: 0 done, 2 database or API error, 130 Ctrl-C.
"""

from __future__ import annotations

import argparse
import json
import threading
from collections.abc import Callable, Mapping
from datetime import UTC
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.cli.common import add_database_argument, fail, open_store
from reconciler.cli.output import TEXT, add_output_argument, camel_keys, dump_line
from reconciler.cli.remote import ApiError, RemoteEvents, add_server_arguments

if TYPE_CHECKING:
    from reconciler.store import Event

PAGE = 1000


class EventSource(Protocol):
    """Where events are read: the store, or the daemon's API (`RemoteEvents`)."""

    def events(
        self, *, after_id: int = ..., federation: str | None = ..., limit: int = ...
    ) -> list[Event]: ...


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "events",
        help="print recorded events",
        description="Print the event outbox, oldest first; --follow waits for new ones.",
    )
    parser.add_argument("--federation", metavar="NAME", help="tenant/name or a bare name")
    parser.add_argument(
        "--follow",
        "-f",
        "--watch",
        "-w",
        action="store_true",
        help="keep printing new events until Ctrl-C",
    )
    parser.add_argument(
        "--after",
        type=int,
        default=0,
        metavar="ID",
        help="start after event ID (default: %(default)s, the first event)",
    )
    add_output_argument(parser)
    parser.add_argument(
        "--poll", type=float, default=1.0, metavar="SECONDS", help=argparse.SUPPRESS
    )
    add_database_argument(parser)
    add_server_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.store import StoreError

    emit = format_text if args.output == TEXT else lambda e: dump_line(as_document(e), args.output)

    def show(source: EventSource) -> None:
        stream(
            source,
            args.federation,
            after_id=args.after,
            emit=emit,
            follow=args.follow,
            poll=args.poll,
        )

    try:
        if args.server:
            show(RemoteEvents(args.server, args.token))
            return 0
        with open_store(args, create=False, announce=False) as store:
            show(store)
    except (StoreError, ApiError) as exc:
        return fail("events", exc)
    return 0


def stream(
    store: EventSource,
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
    return f"{event.id:>6}  {when}  {event.type:<26} {where}  {payload_text(event.payload)}"


def payload_text(payload: Mapping[str, Any]) -> str:
    """A payload on one line, camelCase keys as in json."""
    return json.dumps(camel_keys(payload), sort_keys=True, separators=(",", ":"))


def as_document(event: Event) -> dict[str, Any]:
    """An event for json/yaml: camelCase keys, its payload's included (metrics verbatim)."""
    return camel_keys(event.to_json())
