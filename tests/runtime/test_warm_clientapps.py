"""Warm ClientApps: forked from a preloaded parent, with Flower's own arguments, and a model
equal bit for bit to what a new interpreter per message computes."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any
from urllib.parse import urlparse

import pytest
from flower_harness import (
    SECRET,
    Finished,
    RecordingSink,
    digits_document,
    request,
    sha256,
    wait_finished,
)
from flwr.supercore.constant import TaskType
from flwr.supercore.superexec.executor import subprocess_executor
from flwr.supercore.superexec.executor.types import ExecutionSpec

from reconciler.runtime.local import LocalFlower
from reconciler.runtime.progress import ReportKind
from reconciler.runtime.progress_server import ProgressServer
from reconciler.runtime.warm import WARM_ENV, clientapp_argv, enabled, install_shims

FORKED = "forked warm"


def _spec(**changes: Any) -> ExecutionSpec:
    fields: dict[str, Any] = {
        "task_type": TaskType.CLIENT_APP,
        "runtime_api_address": "127.0.0.1:9094",
        "token": "tok",
        "insecure": True,
        "root_certificates_path": None,
        "runtime_dependency_install": False,
        "parent_pid": 42,
        "suppress_output": False,
        "task_id": 7,
    }
    return ExecutionSpec(**{**fields, **changes})


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"insecure": False, "root_certificates_path": "/ca.pem"},
        {"parent_pid": None, "runtime_dependency_install": True},
    ],
)
def test_a_warm_clientapp_gets_the_arguments_flowers_executor_gives(
    monkeypatch: pytest.MonkeyPatch, changes: dict[str, Any]
) -> None:
    started: list[list[str]] = []
    monkeypatch.setattr(
        subprocess_executor.subprocess, "Popen", lambda args, **_: started.append(args)
    )
    spec = _spec(**changes)
    subprocess_executor.SubprocessExecutor().launch(spec)
    assert started == [["flwr-clientapp", *clientapp_argv(spec)]]


def test_warm_clientapps_are_the_default_and_can_be_turned_off() -> None:
    assert enabled({})
    assert enabled({WARM_ENV: "1"})
    assert not enabled({WARM_ENV: "0"})


def _forked_launches(flower: LocalFlower) -> int:
    logs = flower.workdir.glob("supernode-*/process.log")
    return sum(path.read_text(errors="replace").count(FORKED) for path in logs)


@pytest.mark.flower
@pytest.mark.timeout(400)
def test_warm_and_cold_clientapps_compute_the_same_model(
    local_flower: LocalFlower, finished_federation: Finished, repo_root: Path, tmp_path: Path
) -> None:
    warm = finished_federation.sink.last(ReportKind.COMPLETED).artifact
    assert warm is not None
    assert _forked_launches(local_flower) >= 3 * 3  # every node, every round: forked

    sink = RecordingSink()
    cold_env = {WARM_ENV: "0"}
    with (
        LocalFlower(tmp_path, supernodes=3, progress_key=SECRET, extra_env=cold_env) as cold,
        ProgressServer(sink, SECRET) as server,
    ):
        driver = cold.runtime()
        try:
            # generation 9: its own checkpoint folder, the warm run's files stay as they are
            req = request(repo_root, digits_document(repo_root), server.url, generation=9)
            run_id = driver.submit(req)
            assert wait_finished(driver, run_id, timeout=300) == ("finished", "completed", "")
        finally:
            driver.close()
        assert _forked_launches(cold) == 0
    completed = sink.last(ReportKind.COMPLETED).artifact
    assert completed is not None
    assert completed.sha256 == warm.sha256
    assert sha256(Path(urlparse(completed.uri).path)) == warm.sha256


@pytest.mark.parametrize(
    ("command", "flag"),
    [("flower-superexec", "--runtime-api-address"), ("flower-supernode", "--superlink")],
)
def test_each_shim_runs_flowers_own_command(tmp_path: Path, command: str, flag: str) -> None:
    shim = install_shims(tmp_path) / command
    out = subprocess.run([str(shim), "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0
    assert flag in out.stdout


def test_installing_the_shims_again_never_rewrites_one_a_shell_may_be_reading(
    tmp_path: Path,
) -> None:
    shim = install_shims(tmp_path) / "flower-supernode"
    first = shim.stat().st_ino
    install_shims(tmp_path)  # unchanged: left alone, not truncated and rewritten
    assert shim.stat().st_ino == first

    with shim.open(encoding="utf-8") as reader:  # a shell started on the old text
        shim.write_text("stale\n", encoding="utf-8")
        install_shims(tmp_path)  # changed: a new file takes its name
        assert shim.stat().st_ino != first
        assert reader.read() == "stale\n"  # the reader's file was not touched
    assert shim.read_text(encoding="utf-8").startswith("#!/bin/sh\nexec ")
    assert not list(tmp_path.glob(".flower-*"))
