"""Warm SuperNodes for the local runtime: Flower's own processes, without their fixed waits.

Flower 1.42 starts a fresh `flwr-clientapp` interpreter for every message a SuperNode
handles (importing Flower and numpy costs about two seconds of a core each time), and a
SuperNode that finds no message sleeps 3 s before asking again. Together they are most of
a round on a small machine. The local runtime's SuperNodes find this module's
`flower-supernode` and `flower-superexec` first on their PATH (`install_shims`); each is
Flower's own command with one change:

- `flower-superexec` runs a ClientApp task in a child forked from a preloaded fork server
  (`multiprocessing`'s forkserver: a single-threaded parent, so forking it is safe) instead
  of a new interpreter. The child runs Flower's own `flwr-clientapp` entry point with the
  arguments Flower's executor would give it, so what the app computes is unchanged.
- `flower-supernode` sleeps at most `QUICK_SLEEP` where its loop sleeps (the 3 s idle poll,
  the 0.5 s waits for a reply).

Every other task type, and every SuperNode that is not the local runtime's, stays stock
Flower. `THUNDERLINE_WARM_SUPERNODES=0` gives the local runtime stock Flower too.
"""

from __future__ import annotations

import multiprocessing
import os
import sys
import time
from collections.abc import Mapping
from logging import INFO
from pathlib import Path
from typing import Any

from flwr.supercore.constant import TASK_TYPE_TO_APPIO_API_ADDRESS_ARG, TaskType
from flwr.supercore.logger import log
from flwr.supercore.superexec import run_superexec
from flwr.supercore.superexec.executor.subprocess_executor import SubprocessExecutor
from flwr.supercore.superexec.executor.types import ExecutionSpec, LaunchResult

# Set to "0" to give the local runtime stock Flower SuperNodes.
WARM_ENV = "THUNDERLINE_WARM_SUPERNODES"
SUPEREXEC = "flower-superexec"
SUPERNODE = "flower-supernode"
# The longest sleep of a warm SuperNode's loop: its SuperExec polls for tasks as often
# (local.TASK_POLL_INTERVAL), and three nodes asking four times a second cost little.
QUICK_SLEEP = 0.25
# What every ClientApp imports before it runs the app: loaded once, in the fork server.
PRELOAD = ["flwr.supernode.cli", "flwr.clientapp", "flwr.app", "numpy"]


def enabled(environ: Mapping[str, str]) -> bool:
    return environ.get(WARM_ENV, "1") != "0"


def install_shims(folder: Path) -> Path:
    """Write the two commands into `folder`, which goes first on a SuperNode's PATH.

    Each runs this module with `python -m`, so the fork server's children import it as
    their main module instead of running a shim's file again. A shim is replaced whole
    (a new file renamed over the old), never rewritten in place: a SuperNode started a
    moment earlier may still be reading it, and a shell that reads a truncated script
    exits without a word.
    """
    folder.mkdir(parents=True, exist_ok=True)
    for command in (SUPERNODE, SUPEREXEC):
        shim = folder / command
        text = f'#!/bin/sh\nexec "{sys.executable}" -m reconciler.runtime.warm {command} "$@"\n'
        if shim.is_file() and shim.read_text(encoding="utf-8") == text:
            continue
        fresh = folder / f".{command}.{os.getpid()}"
        fresh.write_text(text, encoding="utf-8")
        fresh.chmod(0o755)
        os.replace(fresh, shim)
    return folder


def clientapp_argv(spec: ExecutionSpec) -> list[str]:
    """The arguments Flower's SubprocessExecutor gives `flwr-clientapp` for `spec`."""
    argv = [
        TASK_TYPE_TO_APPIO_API_ADDRESS_ARG[spec.task_type],
        spec.runtime_api_address,
        "--token",
        spec.token,
    ]
    if spec.insecure:
        argv.append("--insecure")
    elif spec.root_certificates_path is not None:
        argv.extend(["--root-certificates", spec.root_certificates_path])
    if spec.parent_pid is not None:
        argv.extend(["--parent-pid", str(spec.parent_pid)])
    if spec.runtime_dependency_install:
        argv.append("--allow-runtime-dependency-installation")
    return argv


def _run_clientapp(argv: list[str], quiet: bool) -> None:
    """In the forked child: Flower's `flwr-clientapp` entry point, as its own process would."""
    from flwr.supernode.cli import flwr_clientapp

    if quiet:
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, 1)
        os.dup2(devnull, 2)
    sys.argv = ["flwr-clientapp", *argv]
    flwr_clientapp()


class WarmExecutor(SubprocessExecutor):
    """Flower's subprocess executor, with ClientApp tasks forked from the fork server."""

    def __init__(self) -> None:
        self._context = multiprocessing.get_context("forkserver")
        self._context.set_forkserver_preload(PRELOAD)

    def launch(self, spec: ExecutionSpec) -> LaunchResult:
        if spec.task_type != TaskType.CLIENT_APP:
            return super().launch(spec)
        child = self._context.Process(
            target=_run_clientapp,
            args=(clientapp_argv(spec), spec.suppress_output),
            name=f"clientapp-task-{spec.task_id}",
        )
        child.start()
        log(INFO, "ClientApp of task %s forked warm (pid %s)", spec.task_id, child.pid)
        return LaunchResult.accepted()

    def reconcile(self) -> None:
        """Reap the ClientApps that have finished (called once per SuperExec poll)."""
        multiprocessing.active_children()


def _warm_executor(*_args: Any, **_kwargs: Any) -> WarmExecutor:
    return WarmExecutor()


class _QuickSleep:
    """The `time` module as the SuperNode's loop sees it: no sleep longer than QUICK_SLEEP."""

    def __getattr__(self, name: str) -> Any:
        return getattr(time, name)

    @staticmethod
    def sleep(seconds: float) -> None:
        time.sleep(min(seconds, QUICK_SLEEP))


def _superexec() -> None:
    from flwr.supercore.cli import flower_superexec

    run_superexec.get_executor = _warm_executor  # type: ignore[attr-defined]
    flower_superexec()


def _supernode() -> None:
    from flwr.supernode import start_client_internal
    from flwr.supernode.cli import flower_supernode

    start_client_internal.time = _QuickSleep()  # type: ignore[assignment,attr-defined]
    flower_supernode()


def main() -> None:
    """`python -m reconciler.runtime.warm COMMAND ARGS`: Flower's COMMAND, warm."""
    command = sys.argv.pop(1)
    sys.argv[0] = command
    {SUPEREXEC: _superexec, SUPERNODE: _supernode}[command]()


if __name__ == "__main__":
    main()
