"""Real Git repositories for the source and report tests: bare remotes, user clones, and a
`git daemon` on 127.0.0.1. Plain `git` through subprocess, so the code under test is the
only user of GitPython here."""

from __future__ import annotations

import socket
import subprocess
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path

import pytest

IDENTITY = {
    "GIT_AUTHOR_NAME": "Test User",
    "GIT_AUTHOR_EMAIL": "user@example.invalid",
    "GIT_COMMITTER_NAME": "Test User",
    "GIT_COMMITTER_EMAIL": "user@example.invalid",
}


@pytest.fixture(autouse=True)
def isolated_git(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Commits work on a bare machine, and no global/system config leaks into a test."""
    for name, value in IDENTITY.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", str(tmp_path / "gitconfig-global"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.delenv("GIT_CONFIG_COUNT", raising=False)
    monkeypatch.delenv("GIT_TOKEN", raising=False)


def git(cwd: Path, *args: str, stdin: bytes | None = None) -> str:
    done = subprocess.run(
        ["git", *args], cwd=cwd, input=stdin, capture_output=True, check=False, timeout=60
    )
    if done.returncode != 0:
        raise AssertionError(f"git {' '.join(args)} failed: {done.stderr.decode()}")
    return done.stdout.decode().strip()


@dataclass
class Remote:
    """A bare remote plus a person's clone of it."""

    bare: Path
    clone: Path

    @property
    def url(self) -> str:
        return f"file://{self.bare}"

    def commit(self, files: Mapping[str, str | None], message: str = "change") -> str:
        """Write (or, for None, delete) files in the clone, commit and push; return the sha."""
        git(self.clone, "pull", "--quiet", "--rebase", "origin", "main")
        for path, text in files.items():
            target = self.clone / path
            if text is None:
                target.unlink()
            else:
                target.parent.mkdir(parents=True, exist_ok=True)
                target.write_text(text)
        git(self.clone, "add", "--all")
        git(self.clone, "commit", "--quiet", "-m", message)
        git(self.clone, "push", "--quiet", "origin", "HEAD:main")
        return self.head()

    def head(self, branch: str = "main") -> str:
        return git(self.bare, "rev-parse", f"refs/heads/{branch}")

    def files_at(self, rev: str) -> set[str]:
        return set(git(self.bare, "ls-tree", "-r", "--name-only", rev).splitlines())

    def show(self, rev: str, path: str) -> str:
        return git(self.bare, "show", f"{rev}:{path}")


def make_remote(root: Path, files: Mapping[str, str]) -> Remote:
    bare, clone = root / "remote.git", root / "person"
    git(root, "init", "--quiet", "--bare", "--initial-branch=main", str(bare))
    git(root, "clone", "--quiet", str(bare), str(clone))
    git(clone, "checkout", "--quiet", "-B", "main")
    remote = Remote(bare=bare, clone=clone)
    for path, text in files.items():
        (clone / path).parent.mkdir(parents=True, exist_ok=True)
        (clone / path).write_text(text)
    git(clone, "add", "--all")
    git(clone, "commit", "--quiet", "-m", "initial specs")
    git(clone, "push", "--quiet", "origin", "main")
    return remote


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class GitDaemon:
    base: Path
    port: int
    process: subprocess.Popen[bytes] | None = None

    def url(self, name: str) -> str:
        return f"git://127.0.0.1:{self.port}/{name}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            ["git", "daemon", "--listen=127.0.0.1", f"--port={self.port}", "--reuseaddr",
             "--export-all", "--enable=receive-pack", f"--base-path={self.base}", str(self.base)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )  # fmt: skip
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise AssertionError("git daemon did not start listening within 10 s")

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            self.process.wait(timeout=10)
        self.process = None


@pytest.fixture
def git_daemon(tmp_path: Path) -> Iterator[GitDaemon]:
    """A git daemon serving tmp_path/served on a free loopback port; stopped afterwards."""
    base = tmp_path / "served"
    base.mkdir()
    daemon = GitDaemon(base=base, port=free_port())
    daemon.start()
    try:
        yield daemon
    finally:
        daemon.stop()
