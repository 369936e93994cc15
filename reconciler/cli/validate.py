"""`reconciler validate [PATH...]`: check spec files and report problems like a compiler.

Each PATH is a spec file, a folder under specs/, a specs/ folder or a repository (default:
the current directory). Problems print one per line as `FILE:LINE:COL: field: message`
(or as JSON with `--output json`); all problems of all files in one run. A field that is
set but does nothing (reserved, or read only by the built-in app while spec.app is set) is
a warning, `FILE:LINE:COL: field: warning: message`: it does not make the spec invalid.
The whole repository is always loaded, so a name taken by a file outside PATH is still
caught. Exit codes: 0 all valid, 1 problems found, 2 usage error.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.cli.common import add_policy_argument, policy_from
from reconciler.cli.output import TEXT, add_output_argument, dump

if TYPE_CHECKING:
    from reconciler.model import SpecProblem
    from reconciler.specs import FileResult
    from reconciler.specs.policy import Policy

EXIT_OK, EXIT_INVALID, EXIT_USAGE = 0, 1, 2


class UsageError(Exception):
    """The command line names something that cannot be validated."""


@dataclass(frozen=True)
class Target:
    """A repository root and the part of it to report on ("" for all of specs/)."""

    root: Path
    selection: str


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="check FederationSpec files (schema, rules, layout)",
        description=__doc__.split("\n\n")[1] if __doc__ else None,
    )
    parser.add_argument(
        "paths",
        nargs="*",
        default=["."],
        metavar="PATH",
        help="spec file, folder or repository (default: .)",
    )
    add_output_argument(parser)
    add_policy_argument(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace) -> int:
    from reconciler.specs import SchemaUnavailable
    from reconciler.specs.policyfile import PolicyInvalid

    try:
        targets = [find_target(Path(p)) for p in args.paths]
        checked, problems, warnings = _validate(targets, policy_from(args))
    except (UsageError, SchemaUnavailable, OSError, PolicyInvalid) as exc:
        print(f"reconciler validate: {exc}", file=sys.stderr)
        return EXIT_USAGE
    if args.output != TEXT:
        _print_document(checked, problems, warnings, args.output)
    else:
        _print_text(checked, problems, warnings)
    return EXIT_INVALID if problems else EXIT_OK


def find_target(path: Path) -> Target:
    """The repository holding `path` and the repository path to report on."""
    path = Path(os.path.abspath(path))
    if not path.exists():
        raise UsageError(f"{path}: no such file or folder")
    folder = path if path.is_dir() else path.parent
    if not path.is_dir() and not path.name.lower().endswith((".yaml", ".yml")):
        raise UsageError(f"{path}: not a YAML file (.yaml or .yml)")
    root = _find_root(folder)
    if root is None:
        raise UsageError(f"{path}: no specs/ folder here or in any parent folder")
    selection = "" if path == root else path.relative_to(root).as_posix()
    if selection and selection != "specs" and not selection.startswith("specs/"):
        raise UsageError(f"{path}: outside {root / 'specs'}; spec files live in specs/<tenant>/")
    return Target(root, "" if selection == "specs" else selection)


def _find_root(folder: Path) -> Path | None:
    for candidate in (folder, *folder.parents):
        if (candidate / "specs").is_dir():
            return candidate
        if candidate.name == "specs":
            return candidate.parent
    return None


def _validate(
    targets: list[Target], policy: Policy
) -> tuple[int, list[SpecProblem], list[SpecProblem]]:
    """Files checked, their problems and their warnings (file names as the user should see
    them)."""
    from reconciler.specs import duplicate_problems, scan_specs
    from reconciler.specs.parallel import map_chunks

    checked, problems, warnings = 0, [], []
    roots = {t.root: [u.selection for u in targets if u.root == t.root] for t in targets}
    for root, selections in roots.items():
        paths, unreadable = scan_specs(root)
        check = partial(_check_paths, root, policy)
        results = map_chunks(check, paths, workers=os.cpu_count() or 1)
        duplicates = duplicate_problems(results)
        found = [p for r in results for p in r.problems + duplicates.get(r.path, ())]
        found += unreadable
        checked += sum(
            1 for p in {*paths, *(u.file for u in unreadable)} if _selected(p, selections)
        )
        problems += [_shown(root, p) for p in found if _selected(p.file, selections)]
        warned = [w for r in results for w in r.warnings if _selected(w.file, selections)]
        warnings += [_shown(root, w) for w in warned]
    return checked, _in_order(problems), _in_order(warnings)


def _in_order(problems: list[SpecProblem]) -> list[SpecProblem]:
    return sorted(problems, key=lambda p: (p.file, p.line, p.column, p.field))


def _check_paths(root: Path, policy: Policy, paths: Sequence[str]) -> list[FileResult]:
    """Read and check files (in a worker process); documents stay behind, only verdicts
    travel back."""
    from reconciler.model import SpecProblem
    from reconciler.specs import FileResult, check_file, read_spec

    results = []
    for path in paths:
        content = read_spec(root, path)
        if isinstance(content, SpecProblem):
            results.append(FileResult(path, None, None, (content,)))
        else:
            results.append(
                check_file(path, content, repo_root=root, policy=policy, verdict_only=True)
            )
    return results


def _selected(path: str, selections: list[str]) -> bool:
    return any(not s or path == s or path.startswith(s + "/") for s in selections)


def _shown(root: Path, problem: SpecProblem) -> SpecProblem:
    """The problem with its file relative to the current folder when inside it."""
    full = root / problem.file
    try:
        shown = full.relative_to(Path.cwd()).as_posix()
    except ValueError:
        shown = full.as_posix()
    return replace(problem, file=shown)


def _print_text(checked: int, problems: list[SpecProblem], warnings: list[SpecProblem]) -> None:
    for problem in problems:
        print(problem)
    for warning in warnings:
        print(replace(warning, message=f"warning: {warning.message}"))
    files = len({p.file for p in problems})
    if not checked:
        print("no spec files found", file=sys.stderr)
    elif problems:
        summary = f"{len(problems)} problem(s) in {files} of {checked} spec file(s)"
        print(summary, file=sys.stderr)
    else:
        print(f"{checked} spec file(s) valid", file=sys.stderr)


def _print_document(
    checked: int, problems: list[SpecProblem], warnings: list[SpecProblem], fmt: str
) -> None:
    body = {
        "valid": not problems,
        "checked": checked,
        "problems": [asdict(p) for p in problems],
        "warnings": [asdict(w) for w in warnings],
    }
    print(dump(body, fmt))
