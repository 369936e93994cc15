"""The desired state, kept between cycles and refreshed only where Git says files changed.

A cycle at an unchanged revision costs nothing here; a new revision costs one `git ls-tree`
plus reading and checking the spec files whose blob ids changed. The per-file results are
kept, and `specs.assemble` rebuilds the cross-file view (duplicate names) from them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import replace

from reconciler.model import DesiredState
from reconciler.source import GitSource, diff_blob_ids
from reconciler.source.trees import read_blobs
from reconciler.specs.filecheck import FileResult, check_file
from reconciler.specs.layout import is_spec_path
from reconciler.specs.repo import assemble

# Specs are read from Git objects here and status/ is ours, so the daemon's checkout leaves
# both out of its work tree (see GitSource.sparse_excludes).
WORKTREE_EXCLUDES = ("specs", "status")


class DesiredCache:
    """Per-file check results keyed by path, valid for the blob ids they were made from."""

    def __init__(self) -> None:
        self._blobs: dict[str, str] = {}
        self._results: dict[str, FileResult] = {}
        # The revision at which each file's content was last loaded: what its status quotes,
        # so the daemon's own status commits (which move the branch head) change no report.
        self.loaded_at: dict[str, str] = {}
        self.state = DesiredState()
        self.loaded = False  # False until a revision was loaded: "no desired state known yet"
        self._tree: str | None = None  # id of the specs/ tree last loaded

    def refresh(self, source: GitSource, revision: str) -> DesiredState:
        if self.loaded and revision == self.state.revision:
            return self.state
        tree = source.tree_id(revision, "specs")
        if self.loaded and tree == self._tree:
            # A commit that left specs/ alone (such as our own status commit): same specs.
            self.state = replace(self.state, revision=revision)
            return self.state
        self._tree = tree
        blobs = {p: sha for p, sha in source.blob_ids(revision).items() if is_spec_path(p)}
        changes = diff_blob_ids(self._blobs, blobs)
        changed = [*changes.added, *changes.modified]
        contents = read_blobs(source.workdir, sorted({blobs[p] for p in changed}))
        self._update(changes.deleted, {p: contents[blobs[p]] for p in changed})
        self.loaded_at.update(dict.fromkeys(changed, revision))
        self._blobs = blobs
        self.state = assemble(self._results.values(), revision=revision)
        self.loaded = True
        return self.state

    def _update(self, deleted: tuple[str, ...], changed: Mapping[str, bytes]) -> None:
        for path in deleted:
            self._results.pop(path, None)
            self.loaded_at.pop(path, None)
        for path, content in changed.items():
            self._results[path] = check_file(path, content)
