"""The chaos run's figures, from what the real parts hold afterwards. Pure: no I/O.

`tally` reads the events table, the rounds table, the runs table and Flower's own list of
runs (ListRuns), and finds every broken promise, each with the time it happened so that
`chaos.py` can put it under the scenario whose window holds that time. Definitions, per
federation and generation (docs/reliability.md quotes them):

- runs per attempt: Flower runs carrying (federation, generation, attempt) in their run
  config; every attempt the store or Flower knows must have exactly 1.
- events lost: an expected event with no row. Expected: one `fl.federation.created` per
  generation; one `fl.federation.started` per attempt Flower ran; for a generation whose last
  Flower run finished `completed`, one `fl.federation.completed` and one `fl.round.completed`
  per round 1..total.
- events duplicated: a second row of one of those, or of `fl.round.started` for a round.
- transition breaks: a phase change that does not start where the one before it ended.
- rounds lost: a round 1..total of a generation Flower completed with no `completed` row in
  the rounds table.
- rounds redone: for each recovery (an attempt after the first), the rounds from its
  `start_round` to the highest round started before it, which it runs again.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from itertools import pairwise

from reconciler.model import FederationKey, Phase, RunObservation
from reconciler.store.records import Event, RoundRecord, RunRecord

CREATED = "fl.federation.created"
STARTED = "fl.federation.started"
COMPLETED = "fl.federation.completed"
ROUND_STARTED = "fl.round.started"
ROUND_COMPLETED = "fl.round.completed"
TRANSITIONS = "fl.federation."
NOT_A_TRANSITION = "fl.federation.updated"
COUNTED = frozenset({CREATED, STARTED, COMPLETED, ROUND_STARTED, ROUND_COMPLETED})

Attempt = tuple[FederationKey, int, int]  # federation, generation, attempt


@dataclass(frozen=True)
class Finding:
    """One broken promise (or one redone round), at the time it happened (None: unknown)."""

    kind: str  # a key of Figures.counts
    what: str
    at: datetime | None


@dataclass
class Figures:
    attempts: int = 0
    max_runs_per_attempt: int = 0
    counts: Counter[str] = field(default_factory=Counter)
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: str, what: str, at: datetime | None, count: int = 1) -> None:
        self.counts[kind] += count
        self.findings.append(Finding(kind, what, at))


@dataclass(frozen=True)
class Holdings:
    """What the parts hold at the end of the run."""

    events: Sequence[Event]
    rounds: Mapping[FederationKey, Sequence[RoundRecord]]
    runs: Mapping[FederationKey, Sequence[RunRecord]]
    flower: Sequence[RunObservation]
    total_rounds: int


KINDS = (
    "runs-not-1",
    "events-lost",
    "events-duplicated",
    "transition-breaks",
    "rounds-lost",
    "rounds-redone",
)


def tally(held: Holdings) -> Figures:
    figures = Figures()
    flower = Counter((r.key, r.generation, r.attempt) for r in held.flower)
    _runs_per_attempt(held, flower, figures)
    events = defaultdict(list)
    for e in held.events:
        if e.key is not None:
            events[(e.key, e.generation)].append(e)
    completed = _completed_generations(held.flower)
    for (key, generation), evs in events.items():
        assert generation is not None
        done = (key, generation) in completed
        _generation_events(evs, key, generation, flower, done, held.total_rounds, figures)
        if done:
            rounds = [r for r in held.rounds.get(key, ()) if r.generation == generation]
            _rounds_lost(rounds, evs, key, generation, held.total_rounds, figures)
        _rounds_redone(evs, key, generation, figures)
    for key in {e.key for e in held.events if e.key is not None}:
        _transition_chain([e for e in held.events if e.key == key], key, figures)
    return figures


def _runs_per_attempt(held: Holdings, flower: Counter[Attempt], figures: Figures) -> None:
    recorded = {(r.key, r.generation, r.attempt): r for rs in held.runs.values() for r in rs}
    for attempt in sorted(set(flower) | set(recorded), key=str):
        count = flower.get(attempt, 0)
        figures.attempts += 1
        figures.max_runs_per_attempt = max(figures.max_runs_per_attempt, count)
        if count != 1:
            row = recorded.get(attempt)
            figures.add(
                "runs-not-1",
                f"{_name(attempt)}: {count} Flower runs",
                row.created_at if row else None,
            )


def _completed_generations(flower: Iterable[RunObservation]) -> set[tuple[FederationKey, int]]:
    """Generations whose last attempt's Flower run finished `completed`."""
    last: dict[tuple[FederationKey, int], RunObservation] = {}
    for run in flower:
        held = last.get((run.key, run.generation))
        if held is None or run.attempt > held.attempt:
            last[(run.key, run.generation)] = run
    return {k for k, r in last.items() if r.finished and r.sub_status == "completed"}


def _generation_events(
    evs: Sequence[Event],
    key: FederationKey,
    generation: int,
    flower: Counter[Attempt],
    done: bool,
    total_rounds: int,
    figures: Figures,
) -> None:
    """Count every expected event of one generation against the rows that exist."""
    seen = Counter(_identity(e) for e in evs)
    expected: list[tuple[str, int | None]] = [(CREATED, None)]
    expected += [(STARTED, a) for (k, g, a) in flower if (k, g) == (key, generation)]
    if done:
        expected += [(COMPLETED, None)]
        expected += [(ROUND_COMPLETED, r) for r in range(1, total_rounds + 1)]
    for wanted in expected:
        if seen[wanted] == 0:
            figures.add("events-lost", f"{key} g{generation}: no {_show(wanted)}", _end(evs))
    for identity, count in seen.items():
        if count > 1 and identity[0] in COUNTED:
            dup = [e for e in evs if _identity(e) == identity][1]
            figures.add(
                "events-duplicated",
                f"{key} g{generation}: {_show(identity)} x{count}",
                dup.time,
                count - 1,
            )


def _identity(e: Event) -> tuple[str, int | None]:
    """What makes an event one of a kind: its type and its attempt or round."""
    if e.type == STARTED:
        return (e.type, _int(e.payload.get("attempt")))
    if e.type in (ROUND_STARTED, ROUND_COMPLETED):
        return (e.type, _int(e.payload.get("round")))
    return (e.type, None)


def _rounds_lost(
    rounds: Sequence[RoundRecord],
    evs: Sequence[Event],
    key: FederationKey,
    generation: int,
    total_rounds: int,
    figures: Figures,
) -> None:
    by_number = {r.number: r for r in rounds}
    for number in range(1, total_rounds + 1):
        row = by_number.get(number)
        if row is not None and row.status == "completed":
            continue
        before = by_number.get(number - 1)
        at = (row.started_at if row else None) or (before.completed_at if before else None)
        state = "no row" if row is None else f"status {row.status}"
        figures.add("rounds-lost", f"{key} g{generation} round {number}: {state}", at or _end(evs))


def _rounds_redone(
    evs: Sequence[Event], key: FederationKey, generation: int, figures: Figures
) -> None:
    for e in evs:
        attempt, start = _int(e.payload.get("attempt")), _int(e.payload.get("start_round"))
        if e.type != STARTED or attempt is None or attempt < 2 or start is None:
            continue
        begun = [
            _int(x.payload.get("round")) or 0
            for x in evs
            if x.type == ROUND_STARTED and x.id < e.id
        ]
        redone = max(begun, default=0) - start + 1
        if redone > 0:
            figures.add(
                "rounds-redone",
                f"{key} g{generation} attempt {attempt}: {redone} from round {start}",
                e.time,
                redone,
            )


def _transition_chain(evs: Sequence[Event], key: FederationKey, figures: Figures) -> None:
    """Each transition starts where the one before ended (the first, `created`, from
    nothing; a new generation's `created` from the phase the last one ended in)."""
    chain = [
        (e, e.payload.get("from"), e.payload.get("to", Phase.PENDING.value))
        for e in evs
        if e.type.startswith(TRANSITIONS) and e.type != NOT_A_TRANSITION
    ]
    for (_, _, ended), (e, began, _) in pairwise(chain):
        if began is not None and began != ended:
            figures.add("transition-breaks", f"{key}: {ended} then {began} -> ...", e.time)


def _int(value: object) -> int | None:
    return int(value) if isinstance(value, int | str) and str(value).isdigit() else None


def _show(identity: tuple[str, int | None]) -> str:
    kind, number = identity
    return kind if number is None else f"{kind} #{number}"


def _name(attempt: Attempt) -> str:
    key, generation, number = attempt
    return f"{key} g{generation} attempt {number}"


def _end(evs: Sequence[Event]) -> datetime | None:
    return evs[-1].time if evs else None
