"""Run one `git` command through GitPython and translate its failures.

Used by `source` (fetch, trees) and `report.writer` (commit, push). Callers turn
`GitFailed` into their own error types (SourceUnavailable, StatusPushFailed...); nothing
outside these modules sees a GitPython exception.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import BinaryIO

import git

# Never wait for a person: no terminal prompts, no askpass programs.
_QUIET_ENV = {"GIT_TERMINAL_PROMPT": "0", "GIT_ASKPASS": "", "SSH_ASKPASS": ""}


class GitFailed(Exception):
    """A git command exited non-zero, timed out or could not start.

    `detail` is the last meaningful line git printed (already free of credentials when
    the caller passed `redact`), fit for an error message.
    """

    def __init__(self, command: str, detail: str, *, status: int | None, stdout: str = "") -> None:
        super().__init__(f"git {command}: {detail}")
        self.command = command
        self.detail = detail
        self.status = status
        self.stdout = stdout


def run_git(
    cwd: Path,
    *args: str,
    env: Mapping[str, str] | None = None,
    timeout: float | None = None,
    stdin: bytes | None = None,
    secrets: tuple[str, ...] = (),
) -> bytes:
    """Run `git ARGS` in `cwd` and return its stdout; raise GitFailed otherwise.

    `secrets` are strings scrubbed from any error text (tokens, credentialed URLs).
    """
    full_env = {**_QUIET_ENV, **(env or {})}
    runner = git.Git(str(cwd))
    try:
        if stdin is None:
            return _execute(runner, args, full_env, timeout, None)
        with tempfile.TemporaryFile() as stream:
            stream.write(stdin)
            stream.seek(0)
            return _execute(runner, args, full_env, timeout, stream)
    except git.GitCommandError as exc:
        raise _failure(args, exc.status, exc.stderr, exc.stdout, secrets) from None
    except (git.GitCommandNotFound, OSError) as exc:
        raise GitFailed(args[0], _scrub(str(exc), secrets), status=None) from None


def _execute(
    runner: git.Git,
    args: tuple[str, ...],
    env: dict[str, str],
    timeout: float | None,
    stream: BinaryIO | None,
) -> bytes:
    out = runner.execute(
        ["git", *args],
        env=env,
        kill_after_timeout=timeout,
        stdout_as_string=False,
        strip_newline_in_stdout=False,
        istream=stream,
    )
    assert isinstance(out, bytes)
    return out


def _failure(
    args: tuple[str, ...], status: object, stderr: object, stdout: object, secrets: tuple[str, ...]
) -> GitFailed:
    out = _scrub(_as_text(stdout), secrets)
    detail = _detail(_scrub(_as_text(stderr), secrets), out)
    code = status if isinstance(status, int) else None
    return GitFailed(args[0], detail, status=code, stdout=out)


def _detail(stderr: str, stdout: str) -> str:
    """The most telling line: a push's porcelain rejection ("[rejected] (fetch first)"),
    else git's first error or fatal line, else its last line that is not a hint."""
    for line in stdout.splitlines():
        if line.startswith("!"):
            return line.split("\t")[-1].strip()
    lines = [ln.strip().removeprefix("remote: ") for ln in stderr.splitlines() if ln.strip()]
    for at, line in enumerate(lines):
        if line.startswith(("fatal:", "error:")):
            # "fatal: unable to connect to host:" continues on the next line
            return f"{line} {lines[at + 1]}" if line.endswith(":") and at + 1 < len(lines) else line
    plain = [ln for ln in lines if not ln.startswith("hint:")]
    return plain[-1] if plain else "failed without a message"


def _as_text(value: object) -> str:
    text = value.decode("utf-8", "replace") if isinstance(value, bytes) else str(value or "")
    # GitPython wraps captured streams as "\n  stderr: '...'"; unwrap that framing.
    for label in ("stderr: '", "stdout: '"):
        if text.strip().startswith(label):
            text = text.strip()[len(label) :].rstrip("'")
    return text


def _scrub(text: str, secrets: tuple[str, ...]) -> str:
    for secret in secrets:
        if secret:
            text = text.replace(secret, "***")
    return text
