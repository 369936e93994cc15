"""The `reconciler` command: flags parsed here, each command in its own module.

Each command lives in its own module under `reconciler.cli` exposing `register(subparsers)`;
the module imports only what its command needs, so `reconciler validate` never pays for
Flower, boto3 or psycopg.

Exit codes: 0 success (or no changes), 1 findings (invalid specs, plan has changes),
2 usage or operational error, 130 interrupted, 141 stdout closed early (`| head`).
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Sequence

from reconciler import __version__

# Command modules, in the order `--help` lists them.
COMMANDS = (
    "validate",
    "plan",
    "run",
    "demo",
    "migrate",
    "status",
    "history",
    "events",
    "logs",
    "wait",
    "reconcile",
    "version",
    "completion",
)

DESCRIPTION = """\
Thunderline Reconciler keeps federated-learning runs on Flower in step with the
FederationSpec files in a Git repository.

  check and preview:   validate, plan
  run the daemon:      run (or demo, everything locally)
  inspect:             status, describe, history, events, logs, wait
  act now:             reconcile

Read commands take -o text|json|yaml (status also wide); see docs/cli.md.
"""

EXIT_OK = 0
EXIT_FINDINGS = 1
EXIT_ERROR = 2
EXIT_INTERRUPTED = 130
EXIT_PIPE_CLOSED = 141  # 128 + SIGPIPE, what a shell tool reports when its reader went away


class _Parser(argparse.ArgumentParser):
    def __init__(self, *args: object, **kwargs: object) -> None:
        kwargs.setdefault("formatter_class", argparse.RawDescriptionHelpFormatter)
        super().__init__(*args, **kwargs)  # type: ignore[arg-type]

    def error(self, message: str) -> None:  # type: ignore[override]
        # argparse exits 2 on usage errors already; keep the message short and traceback-free.
        self.print_usage(sys.stderr)
        self.exit(EXIT_ERROR, f"{self.prog}: error: {message}\n")


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="reconciler", description=DESCRIPTION)
    parser.add_argument("--version", action="version", version=f"reconciler {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True
    for name in COMMANDS:
        importlib.import_module(f"reconciler.cli.{name}").register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    if "_ARGCOMPLETE" in os.environ:  # a shell asking for completions (reconciler completion)
        import argcomplete

        argcomplete.autocomplete(parser)
    args = parser.parse_args(argv)
    try:
        code: int = args.handler(args)
        sys.stdout.flush()
    except KeyboardInterrupt:
        return EXIT_INTERRUPTED
    except BrokenPipeError:
        # The reader left (`reconciler events | head`): nothing more to say, and Python's
        # flush at exit must not fail again on the same pipe.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_PIPE_CLOSED
    return code
