"""Print a `Plan` three ways: text for terminals, Markdown for PR comments, JSON for machines.

Pure string building. Values of sensitive fields were already masked by the diff.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

from reconciler.model import FederationSpec
from reconciler.plan.model import Action, ActionKind, FieldChange, Plan
from reconciler.specs.apps import spec_app

# A stable marker every plan comment carries, so CI can find and update its own comment.
COMMENT_MARKER = "<!-- thunderline-plan -->"


def describe(spec: FederationSpec) -> str:
    """One line saying what a federation will do: "10 rounds, fedprox mu=0.01, 4 shards"
    (or "3 rounds, fedavg, app apps/quickstart-numpy" for a team's app)."""
    body = spec.spec
    strategy: Mapping[str, Any] = body.get("strategy", {})
    name = str(strategy.get("name", "fedavg"))
    params: Mapping[str, Any] = strategy.get("params", {}) or {}
    if name == "fedprox" and "proxMu" in params:
        name += f" mu={params['proxMu']}"
    elif name == "custom" and "class" in params:
        name += f" {params['class']}"
    if body.get("privacy", {}).get("dp", {}).get("enabled"):
        name += " +dp"
    rounds = spec.rounds_total
    return f"{rounds} round{'s' * (rounds != 1)}, {name}, {_trains_on(body)}"


def _trains_on(body: Mapping[str, Any]) -> str:
    """The built-in app's shards, or the team's app (which brings its own data)."""
    app = spec_app({"spec": body})
    if app is None:
        shards = len(body.get("datasetSpec", {}).get("shards", []))
        return f"{shards} shard{'s' * (shards != 1)}"
    if isinstance(app.get("path"), str):
        return f"app {app['path']}"
    uri = urlsplit(str(app.get("uri", "")))  # without any user:password@ an URI might carry
    return f"app {uri.scheme}://{uri.hostname or ''}{uri.path}"


def _value(value: Any) -> str:
    return "(absent)" if value is None else json.dumps(value, sort_keys=True)


def _change_line(change: FieldChange) -> str:
    note = "  # forces replacement" if change.forces_replacement else ""
    return f"{change.path}: {_value(change.old)} -> {_value(change.new)}{note}"


def _details(action: Action) -> list[str]:
    lines = [_change_line(c) for c in action.changes]
    lines += [str(p) for p in action.problems]
    if action.kind is ActionKind.START and action.spec is not None:
        lines.insert(0, describe(action.spec))
    return lines


def _headline(plan: Plan) -> str:
    if not plan.actions and not plan.unclaimed_problems:
        return "No changes. Recorded state matches the specs."
    return f"Plan: {plan.summary()}."


def to_text(plan: Plan) -> str:
    out = [f"Plan for revision {plan.revision[:12]}", ""] if plan.revision else []
    for action in plan.actions:
        out.append(f"{action.kind.marker:>3} {action.key}  ({action.reason})")
        out += [f"      {line}" for line in _details(action)]
    for problem in plan.unclaimed_problems:
        out.append(f"  ! {problem}")
    if plan.actions or plan.unclaimed_problems:
        out.append("")
    out.append(_headline(plan))
    return "\n".join(out) + "\n"


def _cell(text: str) -> str:
    """GitHub splits table cells on every pipe, even inside code spans."""
    return text.replace("|", "\\|")


def to_markdown(plan: Plan) -> str:
    rev = f" for `{plan.revision[:12]}`" if plan.revision else ""
    out = [COMMENT_MARKER, f"### Thunderline plan{rev}", "", f"**{_headline(plan)}**", ""]
    if plan.actions:
        out += ["| | federation | what happens |", "|---|---|---|"]
        out += [
            f"| `{_cell(a.kind.marker)}` | `{a.key}` | {a.kind}: {a.reason} |" for a in plan.actions
        ]
        out.append("")
    for action in plan.actions:
        details = _details(action)
        if details:
            out += [f"<details><summary><code>{action.key}</code>: {action.kind}</summary>", ""]
            out += ["```", *details, "```", "", "</details>", ""]
    if plan.unclaimed_problems:
        out += ["**Invalid files**", "", "```", *map(str, plan.unclaimed_problems), "```", ""]
    return "\n".join(out)


def _action_json(action: Action) -> dict[str, Any]:
    return {
        "action": str(action.kind),
        "federation": {"tenant": action.key.tenant, "name": action.key.name},
        "reason": action.reason,
        "path": action.spec.path if action.spec else None,
        "digest": action.spec.digest if action.spec else None,
        "changes": [
            {"path": c.path, "old": c.old, "new": c.new, "forcesReplacement": c.forces_replacement}
            for c in action.changes
        ],
        "problems": [_problem_json(p) for p in action.problems],
    }


def _problem_json(problem: Any) -> dict[str, Any]:
    return {
        "file": problem.file,
        "line": problem.line,
        "column": problem.column,
        "field": problem.field,
        "message": problem.message,
    }


def to_json(plan: Plan) -> str:
    doc = {
        "revision": plan.revision,
        "summary": {str(kind): n for kind, n in sorted(plan.counts().items())},
        "hasChanges": plan.has_changes,
        "hasErrors": plan.has_errors,
        "actions": [_action_json(a) for a in plan.actions],
        "invalidFiles": [_problem_json(p) for p in plan.unclaimed_problems],
    }
    return json.dumps(doc, indent=2, sort_keys=True, default=str) + "\n"


RENDERERS = {"text": to_text, "markdown": to_markdown, "json": to_json}
