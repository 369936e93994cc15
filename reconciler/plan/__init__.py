"""Planning: decide, as pure functions, what the reconciler should do.

`plan()` diffs desired specs against recorded state (and, in the daemon, against what the
Flower runtime reports) and returns a `Plan`; `render` prints it for people and machines;
`simulate` says what state a plan leads to.
"""

from reconciler.plan.model import Action, ActionKind, FieldChange, Plan
from reconciler.plan.planner import PlanMemo, PlanOptions, plan
from reconciler.plan.simulate import outcome, simulate

__all__ = [
    "Action",
    "ActionKind",
    "FieldChange",
    "Plan",
    "PlanMemo",
    "PlanOptions",
    "outcome",
    "plan",
    "simulate",
]
