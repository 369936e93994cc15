"""Benchmark `reconciler validate` on one repository of 10,000 spec files.

Writes a repository of COUNT specs (three shapes taken from the example specs: fedavg,
fedprox, custom with DP) across 20 tenants under bench/.fixtures/validate-COUNT, then times
the real command in a fresh process, as a user or a CI job would run it. Target: <= 5 s for
10,000 files on a 2-core machine. Prints the figure and the exact command.

    .venv/bin/python bench/bench_validate.py [--count 10000] [--runs 3]
"""

from __future__ import annotations

import argparse
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
EXAMPLES = [REPO / "specs/acme/digits-fedavg.yaml", REPO / "specs/acme/digits-fedprox.yaml"]
EXAMPLES.append(REPO / "specs/globex/digits-dp.yaml")
TENANTS = 20
TARGET_SECONDS = 5.0


def write_repo(root: Path, count: int) -> None:
    """COUNT distinct specs: each example with its name, tenant and seed rewritten."""
    if (root / "specs").is_dir() and sum(1 for _ in (root / "specs").rglob("*.yaml")) == count:
        return
    shutil.rmtree(root, ignore_errors=True)
    templates = [path.read_text() for path in EXAMPLES]
    originals = [("acme", "digits-fedavg"), ("acme", "digits-fedprox"), ("globex", "digits-dp")]
    for i in range(count):
        shape = i % len(templates)
        tenant, name = f"team-{i % TENANTS:02d}", f"fed-{i:05d}"
        old_tenant, old_name = originals[shape]
        text = (
            templates[shape]
            .replace(old_name, name)
            .replace(f"tenant: {old_tenant}", f"tenant: {tenant}")
        )
        text = text.replace(f"prefix: {old_tenant}/", f"prefix: {tenant}/")
        text = re.sub(r"seed: \d+", f"seed: {i}", text)
        path = root / "specs" / tenant / f"{name}.yaml"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def time_command(command: list[str]) -> tuple[float, float]:
    """Wall-clock seconds, and CPU seconds of the command and its workers."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    result = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    if result.returncode != 0:
        sys.exit(f"validate failed ({result.returncode}):\n{result.stdout[-2000:]}{result.stderr}")
    return elapsed, cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    args = parser.parse_args()

    root = REPO / "bench" / ".fixtures" / f"validate-{args.count}"
    write_repo(root, args.count)
    command = [sys.executable, "-m", "reconciler", "validate", str(root.relative_to(REPO))]
    runs = [time_command(command) for _ in range(args.runs)]
    times = [wall for wall, _ in runs]
    best, median = min(times), statistics.median(times)
    cpu = min(runs)[1]
    load = os.getloadavg()[0]
    shown = " ".join([os.path.relpath(command[0], REPO), *command[1:]])
    print(f"command: {shown}   (cwd: repository root, {os.cpu_count()} CPUs)")
    verdict = "met" if best <= TARGET_SECONDS else "MISSED"
    print(
        f"validate {args.count} spec files: best {best:.2f} s, median {median:.2f} s over "
        f"{args.runs} runs ({args.count / best:,.0f} files/s); target <= {TARGET_SECONDS} s "
        f"for 10,000 -> {verdict}"
    )
    print(f"CPU time of the best run's processes: {cpu:.2f} s; load average now: {load:.1f}")


if __name__ == "__main__":
    main()
