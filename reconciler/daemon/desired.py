"""The desired state, kept between cycles and refreshed only where Git says files changed.

A cycle at an unchanged revision costs nothing here; a new revision costs one `git ls-tree`
plus reading and checking the spec files whose blob ids changed. The per-file results are
kept, and `specs.assemble` rebuilds the cross-file view (duplicate names) from them.

A symlink or submodule under specs/ is never followed (the daemon reads Git objects, not a
work tree); it is reported as a problem at its path, and a spec it replaced or hides keeps
claiming its federation, so that swapping a file for a link never reads as a deletion.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path

from reconciler.model import DEFAULT_TARGETS, DesiredState, SpecProblem, TargetNames
from reconciler.source import GitSource, diff_blob_ids
from reconciler.source.trees import TreeEntries, entries_at, entries_changed, read_blobs
from reconciler.specs.filecheck import FileResult, check_file
from reconciler.specs.layout import is_spec_path, reports_link
from reconciler.specs.policy import DEFAULT_POLICY, Policy
from reconciler.specs.repo import assemble

log = logging.getLogger(__name__)

# Specs are read from Git objects here and status/ is ours, so the daemon's checkout leaves
# both out of its work tree (see GitSource.sparse_excludes).
WORKTREE_EXCLUDES = ("specs", "status")


class DesiredCache:
    """Per-file check results keyed by path, valid for the blob ids they were made from."""

    def __init__(
        self, policy: Policy = DEFAULT_POLICY, targets: TargetNames = DEFAULT_TARGETS
    ) -> None:
        self.policy = policy  # the tenant policy every spec is checked against
        self.targets = targets  # the SuperLinks a spec.target may name
        self._blobs: dict[str, str] = {}
        self._results: dict[str, FileResult] = {}
        # The revision at which each file's content was last loaded: what its status quotes,
        # so the daemon's own status commits (which move the branch head) change no report.
        self.loaded_at: dict[str, str] = {}
        self.state = DesiredState()
        self.loaded = False  # False until a revision was loaded: "no desired state known yet"
        self._tree: str | None = None  # id of the specs/ tree last loaded
        self._hidden: dict[str, FileResult] = {}  # symlinks, submodules and what they hide
        self._root: Path | None = None  # the checkout: spec.app.path folders are checked in it
        self._app_specs: set[str] = set()  # spec files that may name an app folder
        self._around_ids: dict[str, str] = {}  # top-level trees besides specs/ and status/
        self._entries: TreeEntries | None = None  # what specs/ held at self._tree

    def refresh(self, source: GitSource, revision: str) -> DesiredState:
        if self.loaded and revision == self.state.revision:
            return self.state
        self._root = source.workdir
        tree = source.tree_id(revision, "specs")
        around = self._around(source, revision)
        if self.loaded and tree == self._tree and around == self._around_ids:
            # A commit that left specs/ (and the apps they name) alone, such as our own
            # status commit: same specs.
            self.state = replace(self.state, revision=revision)
            return self.state
        if around != self._around_ids:
            # An app folder may have changed under an unchanged spec: check those again.
            self._blobs = {p: b for p, b in self._blobs.items() if p not in self._app_specs}
        entries = self._entries_at(source, revision, tree)
        blobs = {p: sha for p, sha in entries.files.items() if is_spec_path(p)}
        self._hidden = self._not_files(entries.others)
        changes = diff_blob_ids(self._blobs, blobs)
        changed = [*changes.added, *changes.modified]
        contents = read_blobs(source.workdir, sorted({blobs[p] for p in changed}))
        self._update(changes.deleted, {p: contents[blobs[p]] for p in changed})
        self.loaded_at.update(dict.fromkeys(changed, revision))
        self._blobs = blobs
        # Only now: a failed read above must leave this tree to be loaded again next time.
        self._tree, self._around_ids, self._entries = tree, around, entries
        results = [*self._results.values(), *self._hidden.values()]
        self.state = assemble(results, revision=revision, previous=self.state)
        self.loaded = True
        return self.state

    def _entries_at(self, source: GitSource, revision: str, tree: str | None) -> TreeEntries:
        """What specs/ holds at `revision`: what changed since the tree loaded last applied
        to what it held, or (first load, or no specs/ on either side) a full listing."""
        if self._entries is None or self._tree is None or tree is None:
            return entries_at(source.workdir, revision)
        return entries_changed(source.workdir, self._entries, self._tree, tree, "specs/")

    def _update(self, deleted: tuple[str, ...], changed: Mapping[str, bytes]) -> None:
        for path in deleted:
            self._results.pop(path, None)
            self.loaded_at.pop(path, None)
        for path, content in changed.items():
            result = self._results[path] = check_file(
                path, content, repo_root=self._root, policy=self.policy, targets=self.targets
            )
            denied = [p for p in result.problems if p.policy]
            if denied:  # once per content: the status and the metric say it every cycle
                log.warning("policy denies %s: %s", path, "; ".join(str(p) for p in denied))
            if b"app:" in content:  # may name an app folder (a superset is harmless)
                self._app_specs.add(path)
            else:
                self._app_specs.discard(path)

    def _around(self, source: GitSource, revision: str) -> dict[str, str]:
        """Ids of the top-level entries besides specs/ and status/, while some spec may name
        an app folder; {} otherwise (then only specs/ matters)."""
        if not self._app_specs:
            return {}
        entries = source.top_level(revision)
        return {name: oid for name, oid in entries.items() if name not in WORKTREE_EXCLUDES}

    def _not_files(self, others: Mapping[str, str]) -> dict[str, FileResult]:
        """A problem for each entry that is not a regular file, and for each spec known
        before at or under it, still claiming its federation. Called before `_update`."""
        if not others:
            return {}
        known = {**self._results, **self._hidden}
        hidden: dict[str, FileResult] = {}
        for entry, kind in others.items():
            if kind == "symbolic link" and not reports_link(entry):
                continue  # a linked README or the like: not something a spec could be
            message = (
                f"{entry} is a {kind}: specs must be regular files committed under specs/ "
                "(links and submodules are not followed)"
            )
            covered = [r for p, r in known.items() if p == entry or p.startswith(f"{entry}/")]
            for r in covered or [FileResult(entry, None, None, ())]:
                problem = SpecProblem(r.path, 0, 0, "", message)
                hidden[r.path] = FileResult(r.path, r.key, None, (problem,))
        return hidden


def denied_by_tenant(desired: DesiredState) -> dict[str, int]:
    """How many spec files of each tenant the policy denies (tenant from the folder)."""
    return dict(
        Counter(
            file.split("/")[1]
            for file, problems in desired.problems.items()
            if file.count("/") >= 2 and any(p.policy for p in problems)
        )
    )
