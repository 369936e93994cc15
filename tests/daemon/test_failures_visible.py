"""Failures you can see: a failing step logs one WARNING with its (scrubbed) reason, repeats
at most once a minute while it persists and says INFO when it recovers; every failure is
counted in `thunderline_reconcile_errors_total{step}`; the last error per step is in
`/readyz` and in `reconciler status`. Lifecycle transitions log one INFO line each. Real Git
remote and PostgreSQL, the in-memory Flower runtime."""

from __future__ import annotations

import json
import logging
import shutil
import urllib.request
from typing import Any

import pytest

from reconciler.cli import main as cli_main
from reconciler.daemon.failures import FailureLog, scrub
from reconciler.daemon.main import configure_logging
from tests.daemon.conftest import SPEC, SPEC_PATH, World

pytestmark = [pytest.mark.pg, pytest.mark.git]


def readyz(world: World) -> dict[str, Any]:
    try:
        with urllib.request.urlopen(f"{world.daemon.http.url}/readyz", timeout=10) as response:
            return json.loads(response.read())
    except urllib.error.HTTPError as exc:  # 503 while not ready: the body still says why
        return json.loads(exc.read())


def errors_counted(world: World, step: str) -> float:
    value = world.daemon.metrics.registry.get_sample_value(
        "thunderline_reconcile_errors_total", {"step": step}
    )
    return value or 0.0


def lines(caplog: pytest.LogCaptureFixture, text: str, level: str | None = None) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if text in r.getMessage() and (level is None or r.levelname == level)
    ]


def test_a_failing_fetch_logs_once_counts_every_time_and_says_when_it_recovers(
    world: World, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    # Prepare
    world.cycle()
    moved = world.remote.bare.with_name("moved.git")
    shutil.move(world.remote.bare, moved)
    counted = errors_counted(world, "fetch")
    # Execute: three failing cycles within a minute.
    with caplog.at_level(logging.INFO):
        for _ in range(3):
            world.cycle()
    # Assert: one line, three counts, the error in /readyz and `reconciler status`.
    (warning,) = lines(caplog, "(fetch)", "WARNING")
    assert "cannot fetch" in warning and "moved" not in warning
    assert errors_counted(world, "fetch") == counted + 3
    fetch = readyz(world)["lastErrors"]["fetch"]
    assert fetch["failing"] is True and fetch["count"] == 3 and "cannot fetch" in fetch["message"]
    capsys.readouterr()
    assert cli_main(["status", "--database-url", world.store.url]) == 0
    out = capsys.readouterr().out
    assert "LAST ERRORS" in out and "fetch: failing since" in out and "cannot fetch" in out
    # Recovers: one INFO line, the step no longer failing.
    shutil.move(moved, world.remote.bare)
    caplog.clear()
    with caplog.at_level(logging.INFO):
        world.cycle()
        world.cycle()
    (recovered,) = lines(caplog, "(fetch)")
    assert "works again" in recovered and "3 failures" in recovered
    assert readyz(world)["lastErrors"]["fetch"]["failing"] is False
    capsys.readouterr()
    assert cli_main(["status", "--database-url", world.store.url]) == 0
    assert "fetch: recovered at" in capsys.readouterr().out


def test_an_unreachable_superlink_and_a_refused_status_push_are_logged_by_step(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.cycle()
    world.runtime.unavailable = True
    hook = world.remote.bare / "hooks" / "pre-receive"
    hook.write_text("#!/bin/sh\necho 'pushes are closed' >&2\nexit 1\n")
    hook.chmod(0o755)
    with caplog.at_level(logging.INFO):
        world.cycle()  # RuntimeUnavailable condition changes the status: a push is tried
        world.cycle()
    assert len(lines(caplog, "(observe)", "WARNING")) == 1
    assert len(lines(caplog, "(status-push)", "WARNING")) == 1
    errors = readyz(world)["lastErrors"]
    assert "fake SuperLink is unavailable" in errors["observe"]["message"]
    assert errors["status-push"]["failing"] is True
    assert errors_counted(world, "observe") >= 2 and errors_counted(world, "status-push") >= 2
    hook.unlink()
    world.runtime.unavailable = False
    with caplog.at_level(logging.INFO):
        world.cycle()
    assert lines(caplog, "(observe) after", "INFO") and lines(caplog, "(status-push) after")


def test_repeats_are_rate_limited_and_reasons_scrubbed(caplog: pytest.LogCaptureFixture) -> None:
    class Counter:
        def __init__(self) -> None:
            self.count = 0

        def labels(self, step: str) -> Counter:
            return self

        def inc(self) -> None:
            self.count += 1

    now = [0.0]
    counter = Counter()
    failures = FailureLog(counter, repeat=60.0, clock=lambda: now[0])
    secret = "https://bot:ghp_s3cr3t@git.example/specs.git?token=abc123 Authorization: Bearer xyz"
    with caplog.at_level(logging.INFO, logger="reconciler.daemon.failures"):
        for second in (0, 10, 59, 61, 70, 125):
            now[0] = float(second)
            failures.failed("fetch", f"cannot fetch {secret}")
    messages = [r.getMessage() for r in caplog.records]
    assert len(messages) == 3  # at 0 s, 61 s and 125 s
    assert counter.count == 6
    assert "6 times in a row, 2 since the last line" in messages[-1]
    for text in [*messages, json.dumps(failures.last_errors())]:
        assert "ghp_s3cr3t" not in text and "abc123" not in text and "xyz" not in text
    assert "https://***@git.example" in messages[0]
    assert scrub("password: hunter2, ok") == "password: ***, ok"


def test_lifecycle_transitions_log_one_info_line_each(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.INFO, logger="reconciler.lifecycle"):
        world.cycle()
        (run_id,) = world.run_ids()
        world.runtime.advance(run_id)
        world.cycle()
        world.push({SPEC_PATH: SPEC.replace("paused: false", "paused: true")}, "pause")
        world.cycle()
        world.runtime.advance(run_id)  # halts at the round boundary
        world.push({SPEC_PATH: SPEC}, "resume")
        world.cycle()
        second = max(world.run_ids())
        for _ in range(4):
            world.runtime.advance(second)
        world.cycle()
    got = [r.getMessage() for r in caplog.records if r.name == "reconciler.lifecycle"]
    key = "federation acme/digits-fedavg"
    assert f"{key} submitted: Flower run {run_id} (generation 1, attempt 1, from round 1)" in got
    assert any(m.startswith(f"{key} round 1/5 completed: ") and "accuracy=" in m for m in got)
    assert any(m.startswith(f"{key} paused") for m in got)
    assert any(m.startswith(f"{key} resumed: Flower run {second}") for m in got)
    (completed,) = [m for m in got if m.startswith(f"{key} completed")]
    assert "sha256 " in completed and len(completed.split("sha256 ")[1].split()[0]) == 64
    quiet = ("fl.round.started", "fl.aggregate.completed", "fl.client.joined", "fl.client.dropped")
    logged = [e for e in world.store.events() if e.type not in quiet]
    assert len(got) == len(logged)  # one line per event, none twice


def test_library_request_logs_stay_at_warning_and_json_lines_parse(
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = logging.getLogger()
    saved = (root.level, list(root.handlers))
    try:
        configure_logging("INFO", "json")
        for name in ("httpx", "apscheduler", "urllib3", "botocore", "git"):
            assert not logging.getLogger(name).isEnabledFor(logging.INFO), name
        logging.getLogger("httpx").info("HTTP Request: GET http://x")
        logging.getLogger("reconciler.lifecycle").info("federation a/b completed")
        err = capsys.readouterr().err.strip().splitlines()
        (entry,) = [json.loads(line) for line in err]
        assert entry["level"] == "INFO" and entry["logger"] == "reconciler.lifecycle"
        assert entry["message"] == "federation a/b completed" and entry["time"].endswith("+00:00")
    finally:
        root.handlers[:] = saved[1]
        root.setLevel(saved[0])
        for name in ("httpx", "apscheduler", "urllib3", "botocore", "git"):
            logging.getLogger(name).setLevel(logging.NOTSET)
