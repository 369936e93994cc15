"""Read the operator's tenant-policy file into a `Policy`, or say exactly what is wrong.

The file is YAML like a spec, checked against `schema/tenant-policy.schema.json`, and its
problems read like spec problems (`FILE:LINE:COL: field: message`). A broken policy is an
error of the whole command (`validate`, `plan`, `run` refuse to start): guessing a policy
would either let through what the operator meant to forbid or stop what it allowed.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reconciler.model import SpecProblem
from reconciler.specs.policy import Policy, TenantRules
from reconciler.specs.schema import located_errors
from reconciler.specs.yamlsafe import YamlRejected, parse_document

if TYPE_CHECKING:
    from jsonschema.protocols import Validator

POLICY_SCHEMA_PATH = Path(__file__).parent / "tenant-policy.schema.json"
_FIELDS = {
    "read": "read",
    "write": "write",
    "strategies": "strategies",
    "ownApps": "own_apps",
    "maxRounds": "max_rounds",
    "maxConcurrent": "max_concurrent",
}


class PolicyInvalid(Exception):
    """The policy file cannot be used; `problems` says where and why."""

    def __init__(self, problems: list[SpecProblem]) -> None:
        super().__init__("the tenant policy is invalid:\n" + "\n".join(str(p) for p in problems))
        self.problems = problems


@functools.cache
def _validator() -> Validator:
    from jsonschema import Draft202012Validator

    schema = json.loads(POLICY_SCHEMA_PATH.read_text(encoding="utf-8"))
    return Draft202012Validator(schema)


def load_policy(path: Path) -> Policy:
    """The policy in `path`; raises `PolicyInvalid` listing every problem."""
    shown = path.as_posix()
    try:
        content = path.read_bytes()
    except OSError as exc:
        raise PolicyInvalid(
            [SpecProblem(shown, 0, 0, "", f"cannot read: {exc.strerror}")]
        ) from None
    return parse_policy(content, shown)


def parse_policy(content: bytes, shown: str) -> Policy:
    """The policy in `content` (named `shown` in messages and in every policy finding)."""
    try:
        parsed = parse_document(content)
    except YamlRejected as exc:
        raise PolicyInvalid([_problem(shown, f) for f in exc.findings]) from None
    found = located_errors(_validator().iter_errors(parsed.data), parsed.node)
    if found:
        ordered = sorted(found, key=lambda f: (f.line, f.column, f.field))
        raise PolicyInvalid([_problem(shown, f) for f in ordered])
    body: Mapping[str, Any] = parsed.data
    defaults = _rules(body.get("defaults") or {}, TenantRules())
    tenants = {name: _rules(entry, defaults) for name, entry in (body.get("tenants") or {}).items()}
    return Policy(defaults=defaults, tenants=tenants, source=f"the policy {shown}")


def _rules(entry: Mapping[str, Any], base: TenantRules) -> TenantRules:
    """`base` with the fields `entry` sets replaced (lists as tuples)."""
    values = {
        attr: tuple(entry[key]) if isinstance(entry[key], list) else entry[key]
        for key, attr in _FIELDS.items()
        if key in entry
    }
    return TenantRules(**{**_as_dict(base), **values})


def _as_dict(rules: TenantRules) -> dict[str, Any]:
    return {attr: getattr(rules, attr) for attr in _FIELDS.values()}


def _problem(shown: str, finding: Any) -> SpecProblem:
    return SpecProblem(shown, finding.line, finding.column, finding.field, finding.message)
