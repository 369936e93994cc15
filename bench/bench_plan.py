"""Benchmark: plan 10,000 specs against recorded state (issue 4 targets).

    python bench/bench_plan.py [--specs 10000] [--repeat 7]

Prints the median and best wall time of `plan()` when nothing changed and when 1 % of the
specs changed (half in place, half forcing replacement), next to the targets (100 ms and
500 ms on a 2-core machine). Pure CPU: no database, no Git.
"""

from __future__ import annotations

import argparse
import copy
import os
import statistics
import sys
import time
from dataclasses import replace
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from reconciler.model import DesiredState, FederationKey, FederationSpec, Phase, RecordedFederation
from reconciler.plan import plan
from tests.plan.builders import BASE_DOC


def make_spec(i: int) -> FederationSpec:
    doc = copy.deepcopy(BASE_DOC)
    tenant, name = f"tenant-{i % 50}", f"fed-{i:05d}"
    doc["metadata"] = {"name": name, "tenant": tenant}
    doc["spec"]["seed"] = i
    return FederationSpec(FederationKey(tenant, name), f"specs/{tenant}/{name}.yaml", doc)


def recorded_for(spec: FederationSpec) -> RecordedFederation:
    return RecordedFederation(
        key=spec.key,
        path=spec.path,
        document=spec.document,
        digest=spec.digest,
        generation=1,
        observed_generation=1,
        phase=Phase.RUNNING,
        total_rounds=5,
        attempt=1,
        run_generation=1,
    )


def changed(spec: FederationSpec, i: int) -> FederationSpec:
    doc = copy.deepcopy(dict(spec.document))
    if i % 2:
        doc["spec"]["rounds"]["total"] = 9  # in place
    else:
        doc["spec"]["seed"] = -1  # forces replacement
    return replace(spec, document=doc, digest="")


def timed(fn, repeat: int) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        began = time.perf_counter()
        fn()
        times.append((time.perf_counter() - began) * 1000)
    return statistics.median(times), min(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--specs", type=int, default=10_000)
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args()
    specs = [make_spec(i) for i in range(args.specs)]
    recorded = {s.key: recorded_for(s) for s in specs}
    same = DesiredState(specs={s.key: s for s in specs}, revision="r1")
    step = 100  # 1 %
    mixed = {s.key: (changed(s, i) if i % step == 0 else s) for i, s in enumerate(specs)}
    some = DesiredState(specs=mixed, revision="r2")
    noop_med, noop_best = timed(lambda: plan(same, recorded), args.repeat)
    result = plan(some, recorded)
    one_med, one_best = timed(lambda: plan(some, recorded), args.repeat)
    print(f"cores: {os.cpu_count()}   specs: {args.specs}   repeat: {args.repeat}")
    print(f"{'case':<28}{'median ms':>10}{'best ms':>10}{'target ms':>11}  actions")
    print(f"{'nothing changed':<28}{noop_med:>10.1f}{noop_best:>10.1f}{100:>11}  0")
    print(f"{'1 % changed':<28}{one_med:>10.1f}{one_best:>10.1f}{500:>11}  {len(result.actions)}")


if __name__ == "__main__":
    main()
