"""What a status report says about one federation: plain immutable values.

The daemon's report step builds one `FederationStatus` per federation from the recorded
state and hands the lot to `render_status`. Values here must be stable between cycles when
nothing happened (no "now" timestamps), so an unchanged federation renders byte-identical
and causes no commit.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from reconciler.model import Condition, FederationKey, Phase
from reconciler.report.best import BestRound, best_round


class ReportPhase(enum.StrEnum):
    """A phase only a report shows: the spec never became a recorded federation."""

    INVALID = "Invalid"  # the spec is broken or its tenant policy denies it


@dataclass(frozen=True, slots=True)
class RoundStatus:
    """One Flower round as recorded: `status` is e.g. "running", "completed", "failed"."""

    number: int
    status: str
    metrics: Mapping[str, float] = field(default_factory=dict)
    started_at: datetime | None = None
    completed_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class ArtifactStatus:
    """The latest model checkpoint: where it is and how to check it."""

    uri: str
    sha256: str
    size: int
    format: str
    round: int


@dataclass(frozen=True, slots=True)
class EventStatus:
    """One recorded lifecycle event as the page lists it: `summary` is its payload on one
    short line (events carry no secrets; their texts are still untrusted)."""

    time: datetime
    type: str
    summary: str


@dataclass(frozen=True, slots=True)
class FederationStatus:
    """Everything `status/<tenant>/<name>.{yaml,md}` shows for one federation.

    `revision` is the commit that last changed this federation's spec file (as of the
    revision its content was last loaded at), NOT the head of the branch: the reconciler's
    own status commits move the head, and a report quoting the head would change with every
    status commit and commit forever. `revision_known` False: the checkout's history could
    not say (shallow), and `revision` is the loaded revision.
    `spec_digest` is FederationSpec.digest; `problems` are spec errors already formatted
    as "file:line:col: field: message". No field may carry a secret. A spec that never
    became a federation (phase `Invalid`, or `Pending` while queued) has generation 0.
    """

    key: FederationKey
    path: str
    phase: Phase | ReportPhase
    reason: str = ""
    conditions: tuple[Condition, ...] = ()
    generation: int = 0
    observed_generation: int = 0
    spec_digest: str = ""
    revision: str = ""
    revision_known: bool = True
    current_round: int = 0
    total_rounds: int = 0
    rounds: tuple[RoundStatus, ...] = ()
    last_metrics: Mapping[str, float] = field(default_factory=dict)
    artifact: ArtifactStatus | None = None
    run_ids: tuple[int, ...] = ()
    flower_target: str | None = None  # the SuperLink (target) of the latest run; None: no run
    created_at: datetime | None = None
    updated_at: datetime | None = None
    problems: tuple[str, ...] = ()
    events: tuple[EventStatus, ...] = ()  # the newest few, oldest first; the page only


def shown_rounds(status: FederationStatus) -> tuple[RoundStatus, ...]:
    """The rounds as a report shows them, by number. Once the federation has finished
    (Completed, Failed, Stopped) no round is still under way: one recorded `started` shows
    `interrupted` (the store marks them so when the federation finishes; older records and
    a report racing that write say the same)."""
    finished = isinstance(status.phase, Phase) and status.phase.terminal
    ordered = sorted(status.rounds, key=lambda r: r.number)
    if not finished:
        return tuple(ordered)
    return tuple(replace(r, status="interrupted") if r.status in _UNDER_WAY else r for r in ordered)


_UNDER_WAY = frozenset({"started", "running"})


def best_of(status: FederationStatus) -> BestRound | None:
    """The best completed round (report.best's rule), or None."""
    return best_round((r.number, r.metrics) for r in status.rounds if r.status == "completed")


_SUMMARY_CHARS = 100
_NOT_SUMMARISED = frozenset({"generation"})  # the page's facts say it already


def event_summary(payload: Mapping[str, Any]) -> str:
    """An event's payload on one short line: `key=value` by key, nested maps (metrics)
    flattened, numbers to four digits, cut at _SUMMARY_CHARS."""
    items = [
        f"{name}={_scalar(value)}"
        for key, value in sorted(payload.items())
        if key not in _NOT_SUMMARISED
        for name, value in (sorted(value.items()) if isinstance(value, Mapping) else [(key, value)])
    ]
    text = " ".join(", ".join(items).split())
    return text if len(text) <= _SUMMARY_CHARS else text[: _SUMMARY_CHARS - 1] + "…"


def _scalar(value: Any) -> str:
    if isinstance(value, float):
        return format(value, ".4g")
    return str(value)


def rfc3339(moment: datetime | None) -> str | None:
    """UTC, second precision, "Z" suffix, as every timestamp in the reports is written;
    naive datetimes are taken as UTC."""
    if moment is None:
        return None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
