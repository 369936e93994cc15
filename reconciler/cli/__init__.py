"""The `reconciler` command: parses flags and hands over to one command module.

Each command lives in its own module under `reconciler.cli` exposing `register(subparsers)`;
the module imports only what its command needs, so `reconciler validate` never pays for
Flower, boto3 or psycopg.

Exit codes: 0 success (or no changes), 1 findings (invalid specs, plan has changes),
2 usage or operational error.
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Command modules, in the order `--help` lists them.
COMMANDS = ("validate", "plan", "run", "demo", "migrate", "status", "events", "logs")

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors already; keep the message short and traceback-free.
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reconciler", description=__doc__.split("\n\n")[0] if __doc__ else "")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"reconciler.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
    except KeyboardInterrupt:
        return 130
    return code
