"""The desired state of a whole spec repository.

`load_files` is the pure core: repository paths and contents in, `DesiredState` out, with the
rules that span files ((tenant, name) unique across the repo). `load_repo` reads `specs/`
from a checkout (size limit, no symlinks leading out, only regular files) and calls it.
The daemon, `reconciler plan` and `reconciler validate` all come through here.
"""

from __future__ import annotations

import multiprocessing
import os
import threading
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

from reconciler.model import DesiredState, FederationKey, FederationSpec, SpecProblem
from reconciler.specs.filecheck import FileResult, check_file
from reconciler.specs.layout import SPECS_DIR, is_spec_path
from reconciler.specs.yamlsafe import MAX_FILE_BYTES

PARALLEL_MIN_FILES = 400  # below this, starting worker processes costs more than it saves


def load_files(
    files: Mapping[str, bytes], *, revision: str | None = None, workers: int = 1
) -> DesiredState:
    """Check every spec in `files` (repository path -> content; other paths are ignored).
    `workers` > 1 spreads big repositories over that many processes."""
    items = [(path, files[path]) for path in sorted(files) if is_spec_path(path)]
    return assemble(check_files(items, workers=workers), revision=revision)


def check_files(items: Sequence[tuple[str, bytes]], *, workers: int = 1) -> list[FileResult]:
    """`check_file` over (path, content) pairs, in order. Workers are forked, or come
    from a fork server when the caller runs threads (forking those is unsafe)."""
    if workers <= 1 or len(items) < PARALLEL_MIN_FILES:
        return [check_file(path, content) for path, content in items]
    threaded = threading.active_count() > 1
    context = multiprocessing.get_context("forkserver" if threaded else "fork")
    chunk = max(1, len(items) // (workers * 8))
    with context.Pool(workers) as pool:
        return pool.starmap(check_file, items, chunksize=chunk)


def assemble(results: Iterable[FileResult], *, revision: str | None = None) -> DesiredState:
    """Combine per-file results; two files declaring one (tenant, name) are both invalid."""
    results = list(results)
    by_key: dict[FederationKey, list[str]] = defaultdict(list)
    for result in results:
        if result.key is not None:
            by_key[result.key].append(result.path)
    specs: dict[FederationKey, FederationSpec] = {}
    problems: dict[str, tuple[SpecProblem, ...]] = {}
    claimed: dict[str, FederationKey] = {}
    for result in results:
        found = result.problems + _duplicate_problems(result, by_key)
        if result.key is not None and not found and result.document is not None:
            specs[result.key] = FederationSpec(result.key, result.path, result.document)
            continue
        problems[result.path] = found
        if result.key is not None:
            claimed[result.path] = result.key
    return DesiredState(specs=specs, problems=problems, claimed=claimed, revision=revision)


def _duplicate_problems(
    result: FileResult, by_key: Mapping[FederationKey, list[str]]
) -> tuple[SpecProblem, ...]:
    if result.key is None:
        return ()
    others = [path for path in by_key[result.key] if path != result.path]
    if not others:
        return ()
    message = f"federation {result.key} is also declared in {', '.join(others)}"
    return (SpecProblem(result.path, *result.name_at, "metadata.name", message),)


def spec_paths(root: Path) -> list[str]:
    """Repository paths of the YAML files under `root/specs`, sorted; reads no content."""
    return sorted(path for path, _ in _walk(root) if is_spec_path(path))


def load_repo(root: Path, *, revision: str | None = None, workers: int = 1) -> DesiredState:
    """Read and check every spec under `root/specs`."""
    files, unreadable = read_specs(root)
    state = load_files(files, revision=revision, workers=workers)
    if not unreadable:
        return state
    problems = {**state.problems, **{p.file: (p,) for p in unreadable}}
    return DesiredState(state.specs, problems, state.claimed, state.revision)


def read_specs(root: Path) -> tuple[dict[str, bytes], list[SpecProblem]]:
    """Contents of the spec files under `root/specs`, and a problem for each that cannot be
    read safely. A symlink is followed only when it stays inside the repository."""
    files: dict[str, bytes] = {}
    unreadable: list[SpecProblem] = []
    real_root = root.resolve()
    for path, full in _walk(root):
        if not is_spec_path(path) and not (full.is_symlink() and full.is_dir()):
            continue
        content, problem = _read(path, full, real_root)
        if problem is not None:
            unreadable.append(SpecProblem(path, 0, 0, "", problem))
        elif content is not None and is_spec_path(path):
            files[path] = content
    return files, unreadable


def _walk(root: Path) -> Iterable[tuple[str, Path]]:
    """(repository path, file system path) for every entry under specs/ that is not a
    plain folder; symlinked folders are yielded, never descended into."""
    base = root / SPECS_DIR
    for folder, dirs, names in os.walk(base, followlinks=False):
        here = Path(folder)
        for name in sorted(names) + sorted(d for d in dirs if (here / d).is_symlink()):
            full = here / name
            yield full.relative_to(root).as_posix(), full


def _read(path: str, full: Path, real_root: Path) -> tuple[bytes | None, str | None]:
    try:
        target = full.resolve(strict=True)
        if not target.is_relative_to(real_root):
            return None, "symlink points outside the repository; not followed"
        if target.is_dir():
            return None, "symlinked folders are not followed; move the specs into specs/<tenant>/"
        if not target.is_file():
            return None, "not a regular file"
        size = target.stat().st_size
        if size > MAX_FILE_BYTES:
            return None, f"file is too large ({size} bytes; the limit is {MAX_FILE_BYTES})"
        return target.read_bytes(), None
    except OSError as exc:
        return None, f"cannot read: {exc.strerror or type(exc).__name__}"
