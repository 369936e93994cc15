"""`reconciler version`: the installed version (also `reconciler --version`)."""

from __future__ import annotations

import argparse
import platform

from reconciler import __version__
from reconciler.cli.output import TEXT, add_output_argument, dump


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "version",
        help="print the reconciler's version",
        description="Print the reconciler's version, and with -o json|yaml the Flower and "
        "Python versions it runs with.",
    )
    add_output_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    if args.output == TEXT:
        print(f"reconciler {__version__}")
        return 0
    print(dump(versions(), args.output))
    return 0


def versions() -> dict[str, str]:
    from importlib.metadata import PackageNotFoundError, version

    try:
        flower = version("flwr")
    except PackageNotFoundError:
        flower = "not installed"
    return {"reconciler": __version__, "flower": flower, "python": platform.python_version()}
