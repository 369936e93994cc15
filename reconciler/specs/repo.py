"""The desired state of a whole spec repository.

`load_files` is the pure core: repository paths and contents in, `DesiredState` out, with the
rules that span files ((tenant, name) unique across the repo). `load_repo` reads `specs/`
from a checkout (size limit, no symlinks leading out, only regular files) and calls it.
The daemon, `reconciler plan` and `reconciler validate` all come through here.
"""

from __future__ import annotations

import os
import stat
from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping, Sequence
from functools import partial
from pathlib import Path

from reconciler.model import DesiredState, FederationKey, FederationSpec, SpecProblem
from reconciler.specs.filecheck import FileResult, check_file
from reconciler.specs.layout import SPECS_DIR, is_spec_path, reports_link
from reconciler.specs.parallel import map_chunks
from reconciler.specs.policy import DEFAULT_POLICY, Policy
from reconciler.specs.yamlsafe import MAX_FILE_BYTES


def load_files(
    files: Mapping[str, bytes],
    *,
    revision: str | None = None,
    workers: int = 1,
    repo_root: Path | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> DesiredState:
    """Check every spec in `files` (repository path -> content; other paths are ignored)
    against the schema, the rules and the tenant `policy`. `workers` > 1 spreads big
    repositories over that many processes; `repo_root`, the checkout the files come from,
    lets specs be checked against their app folders."""
    items = [(path, files[path]) for path in sorted(files) if is_spec_path(path)]
    results = check_files(items, workers=workers, repo_root=repo_root, policy=policy)
    return assemble(results, revision=revision)


def check_files(
    items: Sequence[tuple[str, bytes]],
    *,
    workers: int = 1,
    repo_root: Path | None = None,
    policy: Policy = DEFAULT_POLICY,
) -> list[FileResult]:
    """`check_file` over (path, content) pairs, in order."""
    return map_chunks(partial(_check_chunk, repo_root, policy), items, workers=workers)


def _check_chunk(
    repo_root: Path | None, policy: Policy, items: Sequence[tuple[str, bytes]]
) -> list[FileResult]:
    return [
        check_file(path, content, repo_root=repo_root, policy=policy) for path, content in items
    ]


def assemble(
    results: Iterable[FileResult],
    *,
    revision: str | None = None,
    previous: DesiredState | None = None,
) -> DesiredState:
    """Combine per-file results; two files declaring one (tenant, name) are both invalid.
    A spec unchanged since `previous` is that same object (its answers stay computed)."""
    results = list(results)
    duplicates = duplicate_problems(results)
    before = previous.specs if previous is not None else {}
    specs: dict[FederationKey, FederationSpec] = {}
    problems: dict[str, tuple[SpecProblem, ...]] = {}
    claimed: dict[str, FederationKey] = {}
    for result in results:
        found = result.problems + duplicates.get(result.path, ())
        if result.key is not None and not found and result.document is not None:
            spec = before.get(result.key)
            if spec is None or (spec.path, spec.digest) != (result.path, result.digest):
                spec = FederationSpec(result.key, result.path, result.document, result.digest)
            specs[result.key] = spec
            continue
        problems[result.path] = found
        if result.key is not None:
            claimed[result.path] = result.key
    return DesiredState(specs=specs, problems=problems, claimed=claimed, revision=revision)


def duplicate_problems(results: Iterable[FileResult]) -> dict[str, tuple[SpecProblem, ...]]:
    """A problem for every file declaring a (tenant, name) that another file declares too,
    naming the others; broken files count, since they still claim their key."""
    by_key: dict[FederationKey, list[FileResult]] = defaultdict(list)
    for result in results:
        if result.key is not None:
            by_key[result.key].append(result)
    out: dict[str, tuple[SpecProblem, ...]] = {}
    for key, claimants in by_key.items():
        for result in claimants if len(claimants) > 1 else ():
            others = ", ".join(r.path for r in claimants if r is not result)
            message = f"federation {key} is also declared in {others}"
            out[result.path] = (
                SpecProblem(result.path, *result.name_at, "metadata.name", message),
            )
    return out


def spec_paths(root: Path) -> list[str]:
    """Repository paths of the spec files under `root/specs` that may be read, sorted."""
    return scan_specs(root)[0]


def load_repo(
    root: Path,
    *,
    revision: str | None = None,
    workers: int = 1,
    policy: Policy = DEFAULT_POLICY,
) -> DesiredState:
    """Read and check every spec under `root/specs`."""
    files, unreadable = read_specs(root)
    state = load_files(files, revision=revision, workers=workers, repo_root=root, policy=policy)
    if not unreadable:
        return state
    problems = {**state.problems, **{p.file: (p,) for p in unreadable}}
    return DesiredState(state.specs, problems, state.claimed, state.revision)


def read_specs(root: Path) -> tuple[dict[str, bytes], list[SpecProblem]]:
    """Contents of the spec files under `root/specs`, and a problem for each entry that
    cannot be read safely."""
    paths, unreadable = scan_specs(root)
    files: dict[str, bytes] = {}
    for path in paths:
        content = read_spec(root, path)
        if isinstance(content, SpecProblem):
            unreadable.append(content)
        else:
            files[path] = content
    return files, unreadable


def scan_specs(root: Path) -> tuple[list[str], list[SpecProblem]]:
    """Sorted paths of the candidate files under `root/specs` (`layout.is_spec_path`: any
    YAML file, at any depth, hidden or not), and a problem for each symlink or submodule
    where a spec could be (`layout.reports_link`). Links are never followed, inside the
    repository or out: the daemon reads Git objects, where a link is not its target, and
    `validate` must say what the daemon will do."""
    real_root = root.resolve()
    base = root / SPECS_DIR
    if not base.resolve().is_relative_to(real_root):
        return [], [SpecProblem(SPECS_DIR, 0, 0, "", _OUTSIDE)]
    if base.is_symlink():  # Git holds it as a link: the daemon would find no spec at all
        link = _NOT_A_FILE.format(path=SPECS_DIR, kind="symbolic link")
        return [], [SpecProblem(SPECS_DIR, 0, 0, "", link)]
    paths: list[str] = []
    problems: list[SpecProblem] = []
    for path, entry in _entries(base, SPECS_DIR, problems):
        if entry.is_symlink():
            if reports_link(path):
                problems.append(
                    SpecProblem(path, 0, 0, "", _symlink_problem(path, entry, real_root))
                )
        elif is_spec_path(path):
            paths.append(path)
    return sorted(paths), problems


_OUTSIDE = "symlink points outside the repository; not followed"
_NOT_A_FILE = (
    "{path} is a {kind}: specs must be regular files committed under specs/ "
    "(links and submodules are not followed)"
)


def _entries(
    folder: Path, prefix: str, problems: list[SpecProblem]
) -> Iterator[tuple[str, os.DirEntry[str]]]:
    """(repository path, entry) under `folder`, descending only into real folders. A folder
    that cannot be listed is a problem: its specs must not look deleted."""
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return
    except OSError as exc:
        reason = exc.strerror or type(exc).__name__
        problems.append(SpecProblem(prefix, 0, 0, "", f"cannot list this folder: {reason}"))
        return
    for entry in entries:
        path = f"{prefix}/{entry.name}"
        if entry.is_dir(follow_symlinks=False) and os.path.lexists(Path(entry.path, ".git")):
            # A checked-out submodule (or a repository inside this one): Git holds it as a
            # commit id, never as files, so the daemon sees none of its specs.
            message = _NOT_A_FILE.format(path=path, kind="submodule")
            problems.append(SpecProblem(path, 0, 0, "", message))
        elif entry.is_dir(follow_symlinks=False):
            yield from _entries(Path(entry.path), path, problems)
        else:
            yield path, entry


def _symlink_problem(path: str, entry: os.DirEntry[str], real_root: Path) -> str:
    target = Path(entry.path).resolve()
    if not target.is_relative_to(real_root):
        return _OUTSIDE
    if target.is_dir():
        return "symlinked folders are not followed; move the specs into specs/<tenant>/"
    return _NOT_A_FILE.format(path=path, kind="symbolic link")


def read_spec(root: Path, path: str) -> bytes | SpecProblem:
    """The content of one spec file: a regular file within the size limit."""
    try:
        info = os.stat(root / path)
        if not stat.S_ISREG(info.st_mode):
            return SpecProblem(path, 0, 0, "", "not a regular file")
        with open(root / path, "rb") as handle:
            content = handle.read(MAX_FILE_BYTES + 1)
    except OSError as exc:
        return SpecProblem(path, 0, 0, "", f"cannot read: {exc.strerror or type(exc).__name__}")
    if len(content) > MAX_FILE_BYTES:
        message = f"file is too large ({info.st_size} bytes; the limit is {MAX_FILE_BYTES})"
        return SpecProblem(path, 0, 0, "", message)
    return content
