"""Benchmark `reconciler validate` on one repository of 10,000 spec files, and on one file.

Writes a repository of COUNT specs (three shapes taken from the example specs: fedavg,
fedprox, custom with DP) across 20 tenants under bench/.fixtures/validate-COUNT, then times
the real command in a fresh process, as a user or a CI job would run it. Targets (#22), on a
2-core machine: <= 1.5 s for 10,000 files; <= 0.1 s for one file as a whole process (mostly
start-up and imports; `python -c pass` is timed beside it for scale). Also prints what the
schema's yes/no costs per document, in-process. Prints each figure and the exact command.

    .venv/bin/python bench/bench_validate.py [--count 10000] [--runs 3] [--one-file-runs 20]
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
TARGET_SECONDS = 1.5
ONE_FILE_TARGET_SECONDS = 0.1


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


def shown(command: list[str]) -> str:
    return " ".join([os.path.relpath(command[0], REPO), *command[1:]])


def bench_repository(count: int, runs: int) -> None:
    root = REPO / "bench" / ".fixtures" / f"validate-{count}"
    write_repo(root, count)
    command = [sys.executable, "-m", "reconciler", "validate", str(root.relative_to(REPO))]
    timed = [time_command(command) for _ in range(runs)]
    times = [wall for wall, _ in timed]
    best, median = min(times), statistics.median(times)
    cpu = min(timed)[1]
    print(f"command: {shown(command)}   (cwd: repository root, {os.cpu_count()} CPUs)")
    verdict = "met" if best <= TARGET_SECONDS else "MISSED"
    print(
        f"validate {count} spec files: best {best:.2f} s, median {median:.2f} s over "
        f"{runs} runs ({count / best:,.0f} files/s); target <= {TARGET_SECONDS} s "
        f"for 10,000 -> {verdict}"
    )
    print(f"CPU time of the best run's processes: {cpu:.2f} s")


def bench_one_file(runs: int) -> None:
    """Whole-process wall time of validating one file, against the bare interpreter's."""
    root = REPO / "bench" / ".fixtures" / "validate-1"
    write_repo(root, 1)
    spec = next((root / "specs").rglob("*.yaml")).relative_to(REPO)
    command = [sys.executable, "-m", "reconciler", "validate", str(spec)]
    bare = [sys.executable, "-c", "pass"]
    time_command(command)  # warm-up: the page cache and any bytecode to write
    validate, python = [], []
    for _ in range(runs):  # alternated, so drifting machine speed hits both alike
        validate.append(time_command(command)[0])
        python.append(time_command(bare)[0])
    best, median = min(validate), statistics.median(validate)
    verdict = "met" if median <= ONE_FILE_TARGET_SECONDS else "MISSED"
    print(f"command: {shown(command)}")
    print(
        f"validate one file, whole process: median {median:.3f} s, best {best:.3f} s over "
        f"{runs} runs; `python -c pass` median {statistics.median(python):.3f} s; "
        f"target <= {ONE_FILE_TARGET_SECONDS} s -> {verdict}"
    )


def bench_schema_check(rounds: int = 2000) -> None:
    """In-process cost of the schema's verdict on a valid spec (the path every valid file
    takes): the compiled yes/no, without jsonschema."""
    from reconciler.specs.schema import schema_findings
    from reconciler.specs.yamlsafe import parse_document

    documents = [parse_document(path.read_bytes()).data for path in EXAMPLES]
    schema_findings(documents[0], None)  # compiles the validator
    per_document = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(rounds):
            for document in documents:
                schema_findings(document, None)
        per_document.append((time.perf_counter() - start) / (rounds * len(documents)))
    print(
        f"schema check of a valid spec, in-process: best {min(per_document) * 1e6:.1f} us, "
        f"median {statistics.median(per_document) * 1e6:.1f} us per document"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=10_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--one-file-runs", type=int, default=20)
    args = parser.parse_args()

    bench_repository(args.count, args.runs)
    bench_one_file(args.one_file_runs)
    bench_schema_check()
    print(f"load average now: {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
