"""Read files and compare trees at any revision of a local repository, without a work tree.

`GitSource` uses these on its own checkout; `reconciler plan --against REV` can call
`read_files_at` on the user's clone directly. Comparison is by blob id between two
commits' trees (`git diff-tree`), which needs no history between them, so it works on
shallow clones as long as both commits are present.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.source.command import GitFailed, run_git
from reconciler.source.errors import RevisionNotFound, SourceMisconfigured

_FILE_MODES = {b"100644", b"100755"}  # regular files; symlinks and submodules are not specs
_OTHER_KINDS = {b"120000": "symbolic link", b"160000": "submodule"}


@dataclass(frozen=True)
class ChangeSet:
    """Files that differ under a folder between two revisions (paths from the repo root).

    `complete=False` means the old revision was not available to compare with: `added`
    then lists every file at the new revision and the caller should reload everything.
    """

    added: tuple[str, ...] = ()
    modified: tuple[str, ...] = ()
    deleted: tuple[str, ...] = ()
    complete: bool = True

    @property
    def changed(self) -> tuple[str, ...]:
        """Files whose content must be (re)loaded: added or modified, sorted."""
        return tuple(sorted(self.added + self.modified))

    def __bool__(self) -> bool:
        return bool(self.added or self.modified or self.deleted) or not self.complete


def diff_blob_ids(old: Mapping[str, str], new: Mapping[str, str]) -> ChangeSet:
    """Pure comparison of two {path: blob id} maps (as returned by `blob_ids_at`)."""
    return ChangeSet(
        added=tuple(sorted(p for p in new if p not in old)),
        modified=tuple(sorted(p for p in new if p in old and old[p] != new[p])),
        deleted=tuple(sorted(p for p in old if p not in new)),
    )


@dataclass(frozen=True)
class TreeEntries:
    """What a folder holds at one revision: regular files, and everything that is not one."""

    files: dict[str, str]  # path -> blob sha1
    others: dict[str, str]  # path -> what it is instead: "symbolic link", "submodule"


def entries_at(repo: Path, rev: str, under: str = "specs/") -> TreeEntries:
    """The entries under `under` at `rev`, in one `git ls-tree`. A symlink or submodule is
    never read as a file, but the caller learns it is there: a spec replaced by a link
    must not look deleted."""
    commit = resolve_commit(repo, rev)
    raw = _git(repo, "ls-tree", "-r", "-z", "--full-tree", commit, "--", *_pathspec(under))
    entries = TreeEntries({}, {})
    for record in raw.split(b"\0"):
        if not record:
            continue
        meta, _, path = record.partition(b"\t")
        mode, kind, sha = meta.split(b" ")
        if kind == b"blob" and mode in _FILE_MODES:
            entries.files[_decode(path)] = sha.decode("ascii")
        else:
            entries.others[_decode(path)] = _OTHER_KINDS.get(
                mode, f"{kind.decode()} {mode.decode()}"
            )
    return entries


def entries_changed(
    repo: Path, entries: TreeEntries, old_tree: str, new_tree: str, prefix: str
) -> TreeEntries:
    """`entries` (of `old_tree`) moved to `new_tree`, from one `git diff-tree` of the two
    trees: what a commit changed, not a listing of every file (20 ms at 10,000 files).
    Paths in the trees are relative to `prefix`, the folder they are the tree of."""
    raw = _git(repo, "diff-tree", "-r", "-z", "--no-renames", old_tree, new_tree)
    files, others = dict(entries.files), dict(entries.others)
    fields = raw.split(b"\0")
    for meta, name in zip(fields[0:-1:2], fields[1::2], strict=True):
        new_mode, _, new_sha, _ = meta.split(b" ")[1:]
        path = prefix + _decode(name)
        files.pop(path, None)
        others.pop(path, None)
        if new_mode in _FILE_MODES:
            files[path] = new_sha.decode("ascii")
        elif new_mode != b"000000":  # 000000: deleted
            others[path] = _OTHER_KINDS.get(new_mode, f"entry {new_mode.decode()}")
    return TreeEntries(files, others)


def blob_ids_at(repo: Path, rev: str, under: str = "specs/") -> dict[str, str]:
    """{path: blob sha1} of the regular files under `under` at `rev`."""
    return entries_at(repo, rev, under).files


def read_files_at(repo: Path, rev: str, under: str = "specs/") -> dict[str, bytes]:
    """{path: content} of the regular files under `under` at `rev`; the work tree is
    neither read nor touched."""
    ids = blob_ids_at(repo, rev, under)
    contents = read_blobs(repo, sorted(set(ids.values())))
    return {path: contents[sha] for path, sha in ids.items()}


def read_blobs(repo: Path, shas: list[str]) -> dict[str, bytes]:
    """Contents of many blobs through one `git cat-file --batch` process."""
    if not shas:
        return {}
    raw = _git(repo, "cat-file", "--batch", stdin="".join(f"{s}\n" for s in shas).encode())
    contents: dict[str, bytes] = {}
    at = 0
    for sha in shas:
        header_end = raw.index(b"\n", at)
        _, kind, size = raw[at:header_end].split(b" ")
        start = header_end + 1
        if kind != b"blob":
            raise SourceMisconfigured(f"object {sha} in the repository is not a file")
        contents[sha] = raw[start : start + int(size)]
        at = start + int(size) + 1  # content is followed by a newline
    return contents


def changed_between(repo: Path, old_rev: str | None, new_rev: str, under: str) -> ChangeSet:
    """What changed under `under` from `old_rev` to `new_rev` (see ChangeSet)."""
    new = resolve_commit(repo, new_rev)
    if old_rev is None:
        return ChangeSet(added=tuple(sorted(blob_ids_at(repo, new, under))))
    if not has_commit(repo, old_rev):
        return ChangeSet(added=tuple(sorted(blob_ids_at(repo, new, under))), complete=False)
    old = resolve_commit(repo, old_rev)
    if old == new:
        return ChangeSet()
    raw = _git(
        repo, "diff-tree", "-r", "-z", "--no-renames", "--no-commit-id",
        old, new, "--", *_pathspec(under),
    )  # fmt: skip
    return _parse_raw_diff(raw)


def has_commit(repo: Path, rev: str) -> bool:
    try:
        run_git(repo, "cat-file", "-e", f"{rev}^{{commit}}")
    except GitFailed:
        return False
    return True


def resolve_commit(repo: Path, rev: str) -> str:
    """Full sha of the commit `rev` names; RevisionNotFound when it names none."""
    if rev.startswith("-"):
        raise RevisionNotFound(f"{rev!r} is not a revision")
    try:
        out = run_git(
            repo, "rev-parse", "--verify", "--quiet", "--end-of-options", f"{rev}^{{commit}}"
        )
    except GitFailed as exc:
        if "not a git repository" in exc.detail:
            raise SourceMisconfigured(f"{repo} is not a Git repository") from None
        raise RevisionNotFound(f"revision {rev!r} not found in {repo}") from None
    return out.decode("ascii").strip()


def _parse_raw_diff(raw: bytes) -> ChangeSet:
    """Parse `diff-tree -z` raw records (":oldmode newmode old new X\0path\0"), keeping
    only regular files: a file turning into a symlink counts as deleted, and so on."""
    fields = [f for f in raw.split(b"\0") if f]
    buckets: dict[str, list[str]] = {"added": [], "modified": [], "deleted": []}
    for meta, path in zip(fields[::2], fields[1::2], strict=True):
        old_mode, new_mode = meta.lstrip(b":").split(b" ")[:2]
        was_file, is_file = old_mode in _FILE_MODES, new_mode in _FILE_MODES
        if was_file and is_file:
            buckets["modified"].append(_decode(path))
        elif is_file:
            buckets["added"].append(_decode(path))
        elif was_file:
            buckets["deleted"].append(_decode(path))
    return ChangeSet(
        added=tuple(sorted(buckets["added"])),
        modified=tuple(sorted(buckets["modified"])),
        deleted=tuple(sorted(buckets["deleted"])),
    )


def _pathspec(under: str) -> list[str]:
    folder = under.strip("/")
    return [f"{folder}/"] if folder else []


def _decode(path: bytes) -> str:
    return path.decode("utf-8", "surrogateescape")


def _git(repo: Path, *args: str, stdin: bytes | None = None) -> bytes:
    try:
        return run_git(repo, *args, stdin=stdin)
    except GitFailed as exc:
        raise SourceMisconfigured(f"cannot read repository {repo}: {exc.detail}") from None
