"""Benchmark the Flower runtime: driver overhead, and round time against Flower's defaults.

Side by side, on real Flower processes on loopback (3 SuperNodes, the digits example,
3 rounds):

1. Submission path, on the same SuperLink: wall time from submit to finished of a
   federation through `FlowerRuntime` vs the same app submitted with `flwr run`
   (target: driver / flwr-run <= 1.05; medians of REPEATS runs each, after a warm-up run).
2. Round time: this project's local runtime (SuperExec task poll 0.25 s, reply poll 0.25 s,
   warm ClientApps forked per message: reconciler/runtime/warm.py) vs a default Flower
   deployment of the same app (SuperExec poll 1 s, reply poll 3 s like
   `Grid.send_and_receive`, a new `flwr-clientapp` interpreter per message); target
   ours / defaults <= 0.25. The SuperNode's own 3 s idle poll is fixed in Flower 1.42 and
   present in both.

Run: .venv/bin/python bench/bench_flower.py   (about 5 minutes on 2 cores; prints figures)
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "runtime"))

from flower_harness import (  # noqa: E402
    SECRET,
    RecordingSink,
    digits_document,
    make_repo,
    request,
    wait_finished,
)

from reconciler.flowerapp import FAB_DIR  # noqa: E402
from reconciler.flowerapp.exchange import POLL_ENV  # noqa: E402
from reconciler.flowerapp.settings import run_config  # noqa: E402
from reconciler.runtime.flower import FlowerRuntime, control_for  # noqa: E402
from reconciler.runtime.local import LocalFlower, venv_bin  # noqa: E402
from reconciler.runtime.progress import ReportKind  # noqa: E402
from reconciler.runtime.progress_server import ProgressServer  # noqa: E402
from reconciler.runtime.warm import WARM_ENV  # noqa: E402

ROUNDS = 3
REPEATS = 3  # runs each way; the ratio compares medians
RUN_TIMEOUT = 400.0


def round_times(sink: RecordingSink) -> list[float]:
    """Seconds from each round_started to its round_completed, as the sink received them."""
    started = {
        x.report.round: x.at for x in sink.received if x.report.kind == ReportKind.ROUND_STARTED
    }
    return [
        x.at - started[x.report.round]
        for x in sink.received
        if x.report.kind == ReportKind.ROUND_COMPLETED
    ]


def via_driver(
    driver: FlowerRuntime, repo: Path, generation: int
) -> tuple[float, float, RecordingSink]:
    """(submit call seconds, submit -> finished seconds, reports)."""
    sink = RecordingSink()
    with ProgressServer(sink, SECRET) as server:
        started = time.monotonic()
        run_id = driver.submit(
            request(repo, digits_document(repo, rounds=ROUNDS), server.url, generation=generation)
        )
        submitted = time.monotonic() - started
        wait_finished(driver, run_id, RUN_TIMEOUT)
        return submitted, time.monotonic() - started, sink


def via_flwr_run(
    flower: LocalFlower, driver: FlowerRuntime, repo: Path, work: Path, generation: int
) -> tuple[float, float]:
    """The same app and run config, submitted by Flower's own CLI: (submit, wall) seconds."""
    work = work / f"flwr-run-{generation}"
    app = work / "app"
    shutil.copytree(FAB_DIR, app, ignore=shutil.ignore_patterns("__pycache__"))
    home = work / "flwr-cli-home"
    home.mkdir()
    (home / "config.toml").write_text(
        f'[superlink]\ndefault = "bench"\n\n[superlink.bench]\naddress = "{flower.address}"\n'
        "insecure = true\n"
    )
    sink = RecordingSink()
    with ProgressServer(sink, SECRET) as server:
        req = request(repo, digits_document(repo, rounds=ROUNDS), server.url, generation=generation)
        overrides = work / "overrides.toml"
        overrides.write_text(
            "".join(
                f"{k} = {json.dumps(v)}\n"
                for k, v in run_config(req.document, control_for(req)).items()
            )
        )
        env = {
            "FLWR_HOME": str(home),
            "FLWR_TELEMETRY_ENABLED": "0",
            "FLWR_DISABLE_UPDATE_CHECK": "1",
            "PATH": str(venv_bin()),
        }
        started = time.monotonic()
        out = subprocess.run(
            [
                str(venv_bin() / "flwr"),
                "run",
                str(app),
                "bench",
                "--run-config",
                str(overrides),
                "--format",
                "json",
            ],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=120,
        )
        submitted = time.monotonic() - started
        run_id = int(json.loads(out.stdout[out.stdout.index("{") :])["run-id"])
        wait_finished(driver, run_id, RUN_TIMEOUT)
        return submitted, time.monotonic() - started


def deployment(work: Path, *, defaults: bool) -> LocalFlower:
    """Ours, or Flower's defaults: SuperExec poll 1 s, reply pulls every 3 s, and a new
    `flwr-clientapp` interpreter per message instead of warm ClientApps."""
    env = (
        {POLL_ENV: "3.0", "FLWR_SUPEREXEC_TASK_POLL_INTERVAL": "1.0", WARM_ENV: "0"}
        if defaults
        else {}
    )
    return LocalFlower(work, supernodes=3, extra_env=env, progress_key=SECRET)


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="bench-flower-") as tmp:
        work = Path(tmp)
        repo = make_repo(work / "repo")
        with deployment(work / "ours", defaults=False) as flower:
            driver = flower.runtime()
            via_driver(driver, repo, generation=1)  # warm-up: the first run on fresh
            # SuperNodes pays their start-up, whichever way it was submitted
            drivers, clis = [], []
            for i in range(REPEATS):  # alternating which goes first
                gen = 10 + 2 * i
                if i % 2:
                    clis.append(via_flwr_run(flower, driver, repo, work, gen + 1))
                drivers.append(via_driver(driver, repo, generation=gen))
                if not i % 2:
                    clis.append(via_flwr_run(flower, driver, repo, work, gen + 1))
            driver.close()
        driver_submit = statistics.median(d[0] for d in drivers)
        driver_wall = statistics.median(d[1] for d in drivers)
        ours = drivers[0][2]
        cli_submit = statistics.median(c[0] for c in clis)
        cli_wall = statistics.median(c[1] for c in clis)
        with deployment(work / "defaults", defaults=True) as flower:
            driver = flower.runtime()
            _, _, default = via_driver(driver, repo, generation=3)
            driver.close()

    print(
        f"federation, {ROUNDS} rounds x 3 SuperNodes (digits logreg), submit -> finished"
        f" (median of {REPEATS} each, after a warm-up run, alternating which goes first):"
    )
    print(f"  through FlowerRuntime   {driver_wall:7.1f} s")
    print(f"  through `flwr run`      {cli_wall:7.1f} s")
    print(f"  ratio driver / flwr run {driver_wall / cli_wall:7.3f}   (target <= 1.05)")
    print("submission alone (the only part that differs; the rest is the same app and SuperLink):")
    print(f"  FlowerRuntime.submit    {driver_submit:7.2f} s  (adoption lookup + StartRun)")
    print(f"  `flwr run` process      {cli_submit:7.2f} s  (CLI start-up + FAB build + StartRun)")
    ours_t, default_t = round_times(ours), round_times(default)
    print("round time (round_started -> round_completed at the progress endpoint):")
    print(f"  local runtime (ours)    {_fmt(ours_t)}")
    print(f"  Flower's defaults       {_fmt(default_t)}")
    ratio = statistics.mean(ours_t) / statistics.mean(default_t)
    print(f"  ratio ours / defaults   {ratio:7.2f}   (target <= 0.25)")


def _fmt(times: list[float]) -> str:
    return f"mean {statistics.mean(times):5.1f} s  rounds {', '.join(f'{t:.1f}' for t in times)}"


if __name__ == "__main__":
    main()
