"""`reconciler migrate`: apply the store's pending schema migrations, then exit."""

from __future__ import annotations

import argparse

from reconciler.cli.common import add_database_argument, fail, open_store


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply the store's pending schema migrations (safe to repeat, and to run "
        "while a daemon starts).",
    )
    add_database_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.store import StoreError

    try:
        with open_store(args, create=True, announce=True) as store:
            applied = store.migrate()
    except StoreError as exc:
        return fail("migrate", exc)
    print(f"applied {applied} migration(s)" if applied else "schema is up to date")
    return 0
