"""`reconciler plan [PATH]`: what the daemon would do, without doing it.

    reconciler plan [PATH] [--against db|status|REV] [-o text|markdown|json|yaml] [--prune]

Desired state: the specs under PATH's repository (work tree). Recorded state, by
`--against`: `db` (PostgreSQL at --database-url / $DATABASE_URL, else the embedded one),
`status` (the reports committed under status/: no database needed, for PR checks), or a Git
revision such as `origin/main` (the specs there, as if applied: "what does this PR change").
Exit codes: 0 no changes, 1 changes, 2 errors (invalid specs included).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.cli import EXIT_ERROR
from reconciler.cli.common import (
    add_admission_arguments,
    add_database_argument,
    add_policy_argument,
    add_prune_arguments,
    plan_options_from,
    policy_from,
)
from reconciler.cli.output import JSON, TEXT, YAML, add_output_argument, dump

if TYPE_CHECKING:
    from reconciler.specs.policy import Policy


def register(sub: Any) -> None:
    p = sub.add_parser("plan", help="show what the reconciler would change", description=__doc__)
    p.add_argument("path", nargs="?", default=".", help="repository or spec folder (default: .)")
    p.add_argument(
        "--against",
        default="status",
        metavar="db|status|REV",
        help="the recorded state to compare with: the database, the status reports in the "
        "work tree, or the specs at a Git revision (default: %(default)s)",
    )
    add_output_argument(p, (TEXT, "markdown", JSON, YAML))
    add_prune_arguments(p)
    add_admission_arguments(p)
    add_database_argument(p)
    add_policy_argument(p)
    p.set_defaults(handler=run)


class PlanError(Exception):
    """Recorded state could not be read: the plan would be a guess (exit 2)."""


def run(args: argparse.Namespace) -> int:
    from reconciler.cli.validate import UsageError, find_target
    from reconciler.plan import plan
    from reconciler.specs import load_repo
    from reconciler.specs.policyfile import PolicyInvalid

    try:
        root = find_target(Path(args.path)).root
        policy = policy_from(args)
        options = plan_options_from(args, policy)
        desired = load_repo(root, revision=_head(root), policy=policy)
        recorded = _recorded(root, args, policy)
    except (UsageError, PlanError, OSError, PolicyInvalid, ValueError) as exc:
        print(f"reconciler plan: {exc}", file=sys.stderr)
        return EXIT_ERROR
    result = plan(desired, recorded, None, options)
    sys.stdout.write(render(result, args.output))
    return result.exit_code


def render(result: Any, fmt: str) -> str:
    """The plan in `fmt`: the plan renderers' text, markdown or json; yaml is the json
    document in YAML."""
    from reconciler.plan.render import RENDERERS

    if fmt == YAML:
        return dump(json.loads(RENDERERS[JSON](result)), YAML) + "\n"
    return RENDERERS[fmt](result)


def _recorded(root: Path, args: argparse.Namespace, policy: Policy) -> Mapping[Any, Any]:
    if args.against == "db":
        return _from_db(args)
    if args.against == "status":
        return _from_status(root, policy)
    return _from_revision(root, args.against, policy)


def _from_db(args: argparse.Namespace) -> Mapping[Any, Any]:
    from reconciler.cli.common import open_store
    from reconciler.store import StoreError

    try:
        with open_store(args, create=False, announce=False) as store:
            return store.load_recorded()
    except StoreError as exc:
        raise PlanError(str(exc)) from None


def _from_status(root: Path, policy: Policy) -> Mapping[Any, Any]:
    """Status reports in the work tree; documents recovered from Git where possible."""
    from reconciler.report import StatusFormatError, read_status_files

    folder = root / "status"
    files = {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(folder.rglob("*.yaml"))
        if p.is_file() and not p.is_symlink()
    }
    try:
        recorded = read_status_files(files)
    except StatusFormatError as exc:
        raise PlanError(str(exc)) from None
    return _with_documents(root, recorded, files, policy)


def _with_documents(
    root: Path, recorded: Mapping[Any, Any], files: Mapping[str, bytes], policy: Policy
) -> Mapping[Any, Any]:
    """Fill each record's spec document from the revision its report names, so the plan can
    diff field by field; a record whose spec cannot be found keeps its digest only."""
    import dataclasses

    import yaml

    from reconciler.source import SourceError, read_files_at
    from reconciler.specs import load_files

    revisions: dict[str, str] = {}
    for content in files.values():
        doc = yaml.safe_load(content) or {}
        status, meta = doc.get("status") or {}, doc.get("metadata") or {}
        if status.get("revision"):
            revisions[f"{meta.get('tenant')}/{meta.get('name')}"] = str(status["revision"])
    filled = dict(recorded)
    for rev in set(revisions.values()):
        try:
            specs = load_files(read_files_at(root, rev), policy=policy).specs
        except SourceError:
            continue  # e.g. a shallow clone without that commit
        for key, spec in specs.items():
            record = filled.get(key)
            if (
                record is not None
                and revisions.get(str(key)) == rev
                and spec.digest == record.digest
            ):
                filled[key] = dataclasses.replace(record, document=spec.document)
    return filled


def _from_revision(root: Path, rev: str, policy: Policy) -> Mapping[Any, Any]:
    from reconciler.plan import plan, simulate
    from reconciler.source import SourceError, read_files_at
    from reconciler.specs import load_files

    try:
        base = load_files(read_files_at(root, rev), revision=rev, policy=policy)
    except SourceError as exc:
        raise PlanError(f"cannot read specs at {rev}: {exc}") from None
    return simulate({}, plan(base, {}))


def _head(root: Path) -> str | None:
    from reconciler.source import SourceError
    from reconciler.source.trees import resolve_commit

    try:
        return resolve_commit(root, "HEAD")
    except SourceError:
        return None
