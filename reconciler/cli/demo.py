"""`reconciler demo`: the end-to-end demo on embedded defaults (what `make demo` runs)."""

from __future__ import annotations

import argparse
import os
from pathlib import Path
from typing import Any

# Where the example specs/ and examples/ are when they are not in the working directory
# (the container image keeps them under /usr/share/thunderline).
EXAMPLES_ENV = "THUNDERLINE_EXAMPLES"


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the example federations end to end, locally")
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="give up after this many seconds (default: %(default)s)",
    )
    p.add_argument(
        "--examples",
        type=Path,
        default=os.environ.get(EXAMPLES_ENV) or None,
        metavar="DIR",
        help=f"the folder holding specs/ and examples/ (default: ${EXAMPLES_ENV}, else .)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.demo import run_demo

    return run_demo(Path.cwd(), examples=args.examples, timeout=args.timeout)
