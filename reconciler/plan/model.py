"""The planner's output types: a `Plan` is an ordered tuple of `Action`s, each with a reason.

Pure values; `reconciler.apply` carries them out, `reconciler.plan.render` prints them.
"""

from __future__ import annotations

import enum
from collections import Counter
from dataclasses import dataclass
from typing import Any

from reconciler.model import FederationKey, FederationSpec, SpecProblem


class ActionKind(enum.StrEnum):
    START = "start"  # create (if new) and submit the first Flower run
    UPDATE = "update"  # record a new generation; the running federation takes it in place
    REPLACE = "replace"  # end the current run (if any) and start the new generation afresh
    PAUSE = "pause"  # halt at the next round boundary, checkpoint kept
    RESUME = "resume"  # continue from the last checkpoint at the next round
    STOP = "stop"  # end the run for good
    RECOVER = "recover"  # the Flower run died under us: resubmit from the last checkpoint
    FAIL = "fail"  # give up: recoveries exhausted or the run failed for good
    COMPLETE = "complete"  # Flower says the run finished, but the app never reported it
    ORPHAN = "orphan"  # spec file deleted with pruning off: report, touch nothing
    INVALID = "invalid"  # the spec is broken: report; a running federation keeps running
    PRUNE_BLOCKED = "prune-blocked"  # a stop of a deleted file the prune guard holds back
    QUEUED = "queued"  # a start past a concurrency limit: it waits for a free slot
    WAITING = "waiting"  # a start that needs more SuperNodes online than there are

    @property
    def changes_state(self) -> bool:
        """Whether carrying the action out changes anything (orphan and invalid only report)."""
        return self not in _REPORT_ONLY

    @property
    def marker(self) -> str:
        return _MARKERS[self]


_MARKERS = {
    ActionKind.START: "+",
    ActionKind.UPDATE: "~",
    ActionKind.REPLACE: "-/+",
    ActionKind.PAUSE: "||",
    ActionKind.RESUME: ">",
    ActionKind.STOP: "-",
    ActionKind.RECOVER: "*",
    ActionKind.FAIL: "x",
    ActionKind.COMPLETE: "=",
    ActionKind.ORPHAN: "?",
    ActionKind.INVALID: "!",
    ActionKind.PRUNE_BLOCKED: "(-)",
    ActionKind.QUEUED: "(+)",
    ActionKind.WAITING: "(+)",
}
# Held starts only report too (apply records a new one as Pending: its place in the queue).
_REPORT_ONLY = frozenset(
    (
        ActionKind.ORPHAN,
        ActionKind.INVALID,
        ActionKind.PRUNE_BLOCKED,
        ActionKind.QUEUED,
        ActionKind.WAITING,
    )
)


@dataclass(frozen=True, slots=True)
class FieldChange:
    """One field that differs between the recorded and the desired spec."""

    path: str  # dotted, e.g. "spec.rounds.total"
    old: Any  # None when the field was absent
    new: Any  # None when the field is now absent
    forces_replacement: bool


@dataclass(frozen=True, slots=True)
class Action:
    kind: ActionKind
    key: FederationKey
    reason: str
    spec: FederationSpec | None = None  # the desired spec the action carries out, if any
    changes: tuple[FieldChange, ...] = ()
    problems: tuple[SpecProblem, ...] = ()


# Summary order and wording of the plan's headline.
SUMMARY_KINDS = (
    (ActionKind.START, "to start"),
    (ActionKind.UPDATE, "to update"),
    (ActionKind.REPLACE, "to replace"),
    (ActionKind.PAUSE, "to pause"),
    (ActionKind.RESUME, "to resume"),
    (ActionKind.STOP, "to stop"),
    (ActionKind.INVALID, "invalid"),
)


@dataclass(frozen=True)
class Plan:
    actions: tuple[Action, ...]
    revision: str | None = None
    # Files that are broken but whose federation could not be identified (no readable name).
    unclaimed_problems: tuple[SpecProblem, ...] = ()

    @property
    def has_changes(self) -> bool:
        return any(a.kind.changes_state for a in self.actions)

    @property
    def has_errors(self) -> bool:
        return bool(self.unclaimed_problems) or any(
            a.kind is ActionKind.INVALID for a in self.actions
        )

    @property
    def prune_blocked(self) -> int:
        """How many stops of deleted files the prune guard holds back."""
        return sum(1 for a in self.actions if a.kind is ActionKind.PRUNE_BLOCKED)

    @property
    def exit_code(self) -> int:
        """Like `terraform plan -detailed-exitcode`: 0 nothing, 1 changes, 2 errors. Stops
        the prune guard holds back are changes asked for (1): they wait for a person; so
        are starts held back (queued for a free slot, waiting for SuperNodes)."""
        if self.has_errors:
            return 2
        return 1 if self.has_changes or self.prune_blocked or self.held else 0

    @property
    def queued(self) -> int:
        """How many starts wait for a free slot (a concurrency limit)."""
        return sum(1 for a in self.actions if a.kind is ActionKind.QUEUED)

    @property
    def held(self) -> int:
        """How many starts are held back: queued, or waiting for SuperNodes."""
        return sum(1 for a in self.actions if a.kind in (ActionKind.QUEUED, ActionKind.WAITING))

    def counts(self) -> Counter[ActionKind]:
        return Counter(a.kind for a in self.actions)

    def summary(self) -> str:
        counts = self.counts()
        invalid_files = len({p.file for p in self.unclaimed_problems})
        counts[ActionKind.INVALID] += invalid_files
        text = ", ".join(f"{counts[kind]} {words}" for kind, words in SUMMARY_KINDS)
        if counts[ActionKind.PRUNE_BLOCKED]:  # said only when it happens: plans stay as they were
            text += f"; {counts[ActionKind.PRUNE_BLOCKED]} stops held by the prune guard"
        if counts[ActionKind.QUEUED]:
            text += f"; {counts[ActionKind.QUEUED]} queued for a free slot"
        if counts[ActionKind.WAITING]:
            text += f"; {counts[ActionKind.WAITING]} waiting for SuperNodes"
        return text
