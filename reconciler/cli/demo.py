"""`reconciler demo`: the end-to-end demo on embedded defaults (what `make demo` runs)."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any


def register(sub: Any) -> None:
    p = sub.add_parser("demo", help="run the example federations end to end, locally")
    p.add_argument(
        "--timeout",
        type=float,
        default=600.0,
        help="give up after this many seconds (default: %(default)s)",
    )
    p.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.demo import run_demo

    return run_demo(Path.cwd(), timeout=args.timeout)
