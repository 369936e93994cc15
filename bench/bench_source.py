"""Cost of the Git edges on a repository with many specs: fetch, changed paths, reading
blobs, rendering and pushing status/. Prints figures; asserts nothing about time.

    .venv/bin/python bench/bench_source.py [--specs 10000] [--changed 10]
"""

from __future__ import annotations

import argparse
import os
import subprocess
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from reconciler.model import FederationKey, Phase
from reconciler.report import FederationStatus, StatusWriter, render_status
from reconciler.source import GitSource

T = TypeVar("T")
SPEC = "apiVersion: thunderline.okocorp/v1\nkind: FederationSpec\nmetadata: {{name: f{n}}}\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--specs", type=int, default=10_000)
    parser.add_argument("--changed", type=int, default=10)
    args = parser.parse_args()
    os.environ.update(GIT_AUTHOR_NAME="bench", GIT_AUTHOR_EMAIL="bench@x.invalid",
                      GIT_COMMITTER_NAME="bench", GIT_COMMITTER_EMAIL="bench@x.invalid")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-source-") as tmp:
        run(Path(tmp), args.specs, args.changed)


def run(root: Path, specs: int, changed: int) -> None:
    bare = root / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(bare)], check=True)
    timed("seed remote (fast-import)", lambda: seed(bare, specs, changed=0, parent=None))
    print(f"repository: {specs} spec files")

    source = GitSource(f"file://{bare}", root / "work")
    first = timed("first fetch (clone, depth 1)", source.fetch)
    timed("fetch, nothing new", source.fetch)
    seed(bare, specs, changed=changed, parent=first.revision)
    second = timed(f"fetch after {changed} files changed", source.fetch)
    changes = timed(
        "changed_paths (diff-tree)", lambda: source.changed_paths(first.revision, second.revision)
    )
    assert len(changes.modified) == changed, changes
    timed("blob_ids at head", lambda: source.blob_ids(second.revision))
    timed("read_files at head (all blobs)", lambda: source.read_files(second.revision))

    statuses = [_status(n, rnd=1) for n in range(specs)]
    files = timed(f"render_status ({specs} federations)", lambda: render_status(statuses))
    writer = StatusWriter(root / "status-work", remote=f"file://{bare}")
    timed(f"first status write ({len(files)} files)", lambda: writer.write(files, message="s1"))
    timed("status write, nothing changed", lambda: writer.write(files, message="s2"))
    statuses[:changed] = [_status(n, rnd=2) for n in range(changed)]
    files = render_status(statuses)
    timed(f"status write, {changed} federations changed", lambda: writer.write(files, message="s3"))


def seed(bare: Path, specs: int, *, changed: int, parent: str | None) -> None:
    """One commit of `specs` files (first `changed` of them edited) via git fast-import."""
    lines = [b"commit refs/heads/main\ncommitter bench <b@x> 1700000000 +0000\ndata 4\nseed\n"]
    if parent:
        lines.append(f"from {parent}\n".encode())
    for n in range(changed if parent else specs):
        text = (SPEC.format(n=n) + ("edited: true\n" if parent else "")).encode()
        path = f"specs/t{n % 100}/f{n}.yaml"
        lines.append(f"M 100644 inline {path}\ndata {len(text)}\n".encode() + text + b"\n")
    subprocess.run(["git", "fast-import", "--quiet"], cwd=bare, input=b"".join(lines), check=True)


def _status(n: int, *, rnd: int) -> FederationStatus:
    return FederationStatus(
        key=FederationKey(f"t{n % 100}", f"f{n}"),
        path=f"specs/t{n % 100}/f{n}.yaml",
        phase=Phase.RUNNING,
        current_round=rnd,
        total_rounds=10,
        last_metrics={"accuracy": 0.5 + rnd / 100},
    )


def timed(label: str, action: Callable[[], T]) -> T:
    start = time.perf_counter()
    result = action()
    print(f"{label:<45} {time.perf_counter() - start:8.3f} s")
    return result


if __name__ == "__main__":
    main()
