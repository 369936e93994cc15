"""`make bench`: run every benchmark, print one table, write bench/results.json.

    python bench/run_all.py [--growth] [--skip-flower]

Each benchmark is its own script (run alone for details); this runs them in fresh
processes, one after another, reads their figures, and records each with the command
that produced it and the machine's core count. `--growth` adds the one-change cycle at
1,000 and 50,000 specs next to 10,000 (cost that grows with the change, not the repo).
Needs PostgreSQL on 127.0.0.1:5432 (as `make test` does).
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

BENCH = Path(__file__).resolve().parent
RESULTS = BENCH / "results.json"

# figure -> (target, unit); lower is better for all of them
TARGETS: dict[str, tuple[float, str]] = {
    "validate_10k_s": (5.0, "s"),
    "plan_noop_10k_ms": (100.0, "ms"),
    "cycle_noop_10k_ms": (100.0, "ms"),
    "cycle_one_change_10k_ms": (300.0, "ms"),
    "cold_reconcile_10k_s": (15.0, "s"),
    "rss_10k_mib": (200.0, "MiB"),
    "push_to_started_webhook_p50_s": (1.0, "s"),
    "overhead_ratio_vs_flwr_run": (1.05, ""),
    "round_time_ratio_vs_flower_defaults": (0.25, ""),
    "console_list_first_page_10k_ms": (200.0, "ms"),
}


def run(script: str, *args: str) -> tuple[str, str]:
    command = [sys.executable, str(BENCH / script), *args]
    shown = " ".join(["python", f"bench/{script}", *args])
    print(f"$ {shown}", flush=True)
    began = time.monotonic()
    done = subprocess.run(command, capture_output=True, text=True, check=False, cwd=BENCH.parent)
    if done.returncode != 0:
        raise RuntimeError(f"{shown} failed:\n{done.stdout}\n{done.stderr}")
    print(f"  ({time.monotonic() - began:.0f} s)", flush=True)
    return done.stdout, shown


def number(pattern: str, text: str) -> float:
    found = re.search(pattern, text)
    if found is None:
        raise RuntimeError(f"no figure matching {pattern!r} in:\n{text}")
    return float(found.group(1))


def validate() -> dict[str, Any]:
    out, cmd = run("bench_validate.py", "--count", "10000", "--runs", "3")
    return {"validate_10k_s": (number(r"best ([\d.]+) s", out), cmd)}


def plan() -> dict[str, Any]:
    out, cmd = run("bench_plan.py", "--specs", "10000")
    return {"plan_noop_10k_ms": (number(r"nothing changed\s+([\d.]+)", out), cmd)}


def daemon(specs: int) -> dict[str, Any]:
    out, cmd = run("bench_daemon.py", "--specs", str(specs))
    figures = json.loads(out[out.index("{") :])
    suffix = f"{specs // 1000}k"
    return {
        f"cycle_noop_{suffix}_ms": (figures["cycle_noop_ms"], cmd),
        f"cycle_one_change_{suffix}_ms": (figures["cycle_one_change_ms"], cmd),
        f"cold_reconcile_{suffix}_s": (figures["cold_reconcile_s"], cmd),
        f"rss_{suffix}_mib": (figures["rss_mib"], cmd),
    }


def push_latency() -> dict[str, Any]:
    out, cmd = run("bench_push_latency.py", "--pushes", "20")
    line = next(row for row in out.splitlines() if row.startswith("webhook"))
    _, _, p50, p95, _ = line.split()
    return {
        "push_to_started_webhook_p50_s": (float(p50), cmd),
        "push_to_started_webhook_p95_s": (float(p95), cmd),
    }


def flower() -> dict[str, Any]:
    out, cmd = run("bench_flower.py")
    return {
        "overhead_ratio_vs_flwr_run": (number(r"ratio driver / flwr run\s+([\d.]+)", out), cmd),
        "round_time_ratio_vs_flower_defaults": (
            number(r"ratio ours / defaults\s+([\d.]+)", out),
            cmd,
        ),
    }


def console() -> dict[str, Any]:
    out, cmd = run("bench_console.py", "--count", "10000", "--runs", "7")
    figures = json.loads(out[out.rindex("\n{") :])
    return {"console_list_first_page_10k_ms": (figures["console_list_first_page_ms"], cmd)}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--growth", action="store_true", help="also 1k and 50k one-change cycles")
    ap.add_argument("--skip-flower", action="store_true", help="skip the Flower benchmark")
    args = ap.parse_args()
    steps: list[Callable[[], dict[str, Any]]] = [validate, plan, lambda: daemon(10_000)]
    steps += [push_latency, console] + ([] if args.skip_flower else [flower])
    if args.growth:
        steps += [lambda: daemon(1_000), lambda: daemon(50_000)]
    figures: dict[str, Any] = {}
    for step in steps:
        figures.update(step())
    results = {
        "cores": os.cpu_count(),
        "load_average_at_end": round(os.getloadavg()[0], 2),
        "figures": {
            name: {"value": value, "command": cmd, **_target(name)}
            for name, (value, cmd) in figures.items()
        },
    }
    RESULTS.write_text(json.dumps(results, indent=2) + "\n")
    print(f"\n{'figure':<34}{'value':>10}  {'target':>8}  command")
    for name, row in results["figures"].items():
        target = f"{row['target']:g}" if "target" in row else "-"
        print(f"{name:<34}{row['value']:>10g}  {target:>8}  {row['command']}")
    print(f"\n{os.cpu_count()} cores; written to {RESULTS.relative_to(BENCH.parent)}")


def _target(name: str) -> dict[str, Any]:
    if name not in TARGETS:
        return {}
    target, unit = TARGETS[name]
    return {"target": target, "unit": unit}


if __name__ == "__main__":
    main()
