"""Fault injection for the crash-safety suite: a process that dies on the spot at a named point.

`fault_point(name)` marks a place where a crash matters: around a Flower submit, around a
store commit, between the status commit and its push, in the middle of a checkpoint upload.
When the environment variable `THUNDERLINE_FAULT` holds exactly that name, the process sends
itself SIGKILL there: no `finally`, no atexit, no flushed buffers, as a power cut would.
Otherwise the call costs one lookup in the environment and does nothing.

`THUNDERLINE_FAULT_ONCE=PATH` makes the fault fire in one process only: the first to reach the
point creates PATH and dies; later ones (a restarted daemon, a recovered Flower run inheriting
the same environment) find PATH and go on. The points are listed in `KILL_POINTS`, the suite in
tests/reliability/ checks that each one is reached and survived.
"""

from __future__ import annotations

import os
import signal

FAULT_ENV = "THUNDERLINE_FAULT"
ONCE_ENV = "THUNDERLINE_FAULT_ONCE"

KILL_POINTS = (
    "apply.before-submit",  # a launch found no run of its (generation, attempt) to adopt
    "apply.after-submit",  # Flower holds the run; the store knows nothing of it yet
    "apply.after-run-recorded",  # the run row is committed, the move to Starting is not
    "apply.after-commit",  # the move to Starting is committed, the action not yet reported
    "apply.after-stop",  # a run was stopped (replace, stop, recover), nothing recorded yet
    "coldstart.before-submit",  # many federations created in one commit, none submitted
    "coldstart.after-submit",  # all submitted, their launches not committed
    "coldstart.after-commit",  # the launches committed
    "report.before-push",  # the status commit is built, the push has not happened
    "progress.before-reply",  # a progress report is recorded, its reply not yet sent
    "artifacts.put",  # a checkpoint is half written (in the Flower app's process)
)


def fault_point(name: str) -> None:
    """Die here when THUNDERLINE_FAULT names this point; otherwise do nothing."""
    if os.environ.get(FAULT_ENV) == name:
        _die(name)


def _die(name: str) -> None:
    marker = os.environ.get(ONCE_ENV)
    if marker:
        try:
            fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return  # fired already, in this process or another
        os.write(fd, f"{name} {os.getpid()}\n".encode())
        os.close(fd)
    os.kill(os.getpid(), signal.SIGKILL)
