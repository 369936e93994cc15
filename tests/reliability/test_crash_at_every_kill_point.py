"""SIGKILL at every step of applying an action, restart, and check what every part holds.

Each scenario kills `reconciler run` (or, for a checkpoint upload, the Flower app) at one
kill point of `reconciler.faults`, restarts it without the fault and lets it converge (see
`tests.reliability.crash`), on one shared real SuperLink. Promises checked per kill point:
exactly one Flower run per (federation, generation, attempt), and a crash of the daemon
costs no extra attempt; every run is recorded by exactly one start event, and no transition
or round event is missing or written twice; the status in the database and on the remote
converges.
"""

from __future__ import annotations

import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from itertools import pairwise
from pathlib import Path

import pytest

from reconciler.faults import FAULT_ENV, KILL_POINTS, ONCE_ENV
from reconciler.model import FederationKey, Phase
from reconciler.runtime.local import LocalFlower
from tests.reliability.crash import Outcome, Scenario, run_scenario
from tests.reliability.harness import PROGRESS_SECRET
from tests.source.gitutil import IDENTITY

PROGRESS_KEY = PROGRESS_SECRET.encode()  # the daemons' key, given to the shared SuperLink

pytestmark = [
    pytest.mark.flower,
    pytest.mark.e2e,
    pytest.mark.pg,
    pytest.mark.git,
    pytest.mark.timeout(900),
]

HEARD = frozenset({Phase.RUNNING})  # a ServerApp reported a round to the restarted daemon
SCENARIOS = (
    Scenario("start-before-submit", "apply.before-submit", ("before-submit",)),
    Scenario("start-after-submit", "apply.after-submit", ("after-submit",)),
    Scenario("start-after-run-recorded", "apply.after-run-recorded", ("after-run-row",)),
    Scenario("start-after-commit", "apply.after-commit", ("after-commit",)),
    Scenario("bulk-before-submit", "coldstart.before-submit", ("bulk-a1", "bulk-a2")),
    Scenario("bulk-after-submit", "coldstart.after-submit", ("bulk-b1", "bulk-b2")),
    Scenario("bulk-after-commit", "coldstart.after-commit", ("bulk-c1", "bulk-c2")),
    Scenario("status-before-push", "report.before-push", ("status-push",)),
    Scenario("progress-before-reply", "progress.before-reply", ("reply",), converge=HEARD),
    Scenario("replace-after-stop", "apply.after-stop", ("replace-stop",), replace=True),
    Scenario("replace-after-submit", "apply.after-submit", ("replace-submit",), replace=True),
    Scenario("checkpoint-mid-write", "artifacts.put", ("checkpoint",), in_flower=True),
)
PARALLEL = 6


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Outcome]]:
    """Every scenario, run once, six at a time, on one local Flower deployment whose app
    processes carry the checkpoint fault (it fires once: the first upload after start)."""
    root = tmp_path_factory.mktemp("crash")
    marker = root / "checkpoint-fault-fired"
    flower_env = {FAULT_ENV: "artifacts.put", ONCE_ENV: str(marker)}
    with pytest.MonkeyPatch.context() as mp:
        for name, value in IDENTITY.items():
            mp.setenv(name, value)
        mp.setenv("GIT_CONFIG_GLOBAL", str(root / "gitconfig"))
        mp.setenv("GIT_CONFIG_NOSYSTEM", "1")
        with (
            LocalFlower(
                root / "flower", supernodes=3, extra_env=flower_env, progress_key=PROGRESS_KEY
            ) as flower,
            ThreadPoolExecutor(PARALLEL, thread_name_prefix="crash") as pool,
        ):
            futures: dict[str, Future[Outcome]] = {}
            # The checkpoint fault fires in whichever app uploads first: run that scenario
            # alone until it has fired, then everything else.
            first = next(s for s in SCENARIOS if s.in_flower)
            futures[first.id] = pool.submit(run_scenario, first, flower.address, root, marker)
            _wait_for_marker(marker, futures[first.id])
            for s in SCENARIOS:
                if s is not first:
                    futures[s.id] = pool.submit(run_scenario, s, flower.address, root, marker)
            yield {sid: f.result() for sid, f in futures.items()}


def _wait_for_marker(marker: Path, future: Future[Outcome]) -> None:
    deadline = time.monotonic() + 300
    while not marker.exists() and not future.done() and time.monotonic() < deadline:
        time.sleep(0.5)


def test_every_kill_point_is_covered() -> None:
    assert {s.point for s in SCENARIOS} == set(KILL_POINTS)


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_the_kill_point_was_reached_and_the_status_converged(
    outcomes: dict[str, Outcome], scenario: Scenario
) -> None:
    outcome = outcomes[scenario.id]
    assert not outcome.error, outcome.error
    assert outcome.died, f"{scenario.point} was never reached\n{outcome.log[-4000:]}"
    for key in scenario.keys:
        record = outcome.records[key]
        assert record.phase in scenario.converge, record.reason
        assert record.observed_generation == record.generation == (2 if scenario.replace else 1)
        status = outcome.statuses[key]
        assert status["phase"] in {p.value for p in scenario.converge}
        assert status["observedGeneration"] == record.generation


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_exactly_one_flower_run_per_generation_and_attempt(
    outcomes: dict[str, Outcome], scenario: Scenario
) -> None:
    outcome = outcomes[scenario.id]
    for key in scenario.keys:
        runs = Counter((r.generation, r.attempt) for r in outcome.runs if r.key == key)
        assert runs and max(runs.values()) == 1, runs
        generations = 2 if scenario.replace else 1
        if scenario.in_flower:  # the app died: one recovery, from the last checkpoint
            assert set(runs) == {(1, 1), (1, 2)}
        else:  # a daemon crash costs no run
            assert set(runs) == {(g, 1) for g in range(1, generations + 1)}


@pytest.mark.parametrize("scenario", SCENARIOS, ids=lambda s: s.id)
def test_events_are_neither_lost_nor_duplicated(
    outcomes: dict[str, Outcome], scenario: Scenario
) -> None:
    outcome = outcomes[scenario.id]
    for key in scenario.keys:
        started = outcome.events_of(key, "fl.federation.started")
        run_ids = sorted(e.payload["run_id"] for e in started)
        assert run_ids == sorted(r.run_id for r in outcome.runs if r.key == key)
        _no_repeated_transition(outcome, key)
        rounds = outcome.events_of(key, "fl.round.")
        seen = Counter((e.type, e.generation, e.payload.get("round")) for e in rounds)
        assert max(seen.values(), default=1) == 1, seen
        if scenario.converge == HEARD:  # the restarted daemon heard round 1
            assert ("fl.round.started", outcome.records[key].generation, 1) in seen


def _no_repeated_transition(outcome: Outcome, key: FederationKey) -> None:
    """Each transition event starts where the one before ended, so none is missing and
    none is written twice (the first, `created`, starts from nothing)."""
    chain = [
        (e.payload.get("from"), e.payload.get("to", Phase.PENDING.value))
        for e in outcome.events_of(key, "fl.federation.")
        if e.type != "fl.federation.updated"
    ]
    assert chain[0] == (None, Phase.PENDING.value), chain
    for (_, before), (after, _) in pairwise(chain):
        assert after == before, chain


def test_a_dead_app_redoes_at_most_one_round(outcomes: dict[str, Outcome]) -> None:
    scenario = next(s for s in SCENARIOS if s.in_flower)
    outcome = outcomes[scenario.id]
    key = scenario.keys[0]
    started = outcome.events_of(key, "fl.federation.started")
    assert len(started) == 2 and started[1].payload.get("reason")  # a recovery, with why
    recovery = started[1]
    begun = [
        e.payload["round"] for e in outcome.events_of(key, "fl.round.started") if e.id < recovery.id
    ]
    redone = max(begun, default=0) - recovery.payload["start_round"] + 1
    assert redone <= 1


def test_figures(outcomes: dict[str, Outcome], capsys: pytest.CaptureFixture[str]) -> None:
    """The table docs/reliability.md quotes (run with -s to see it)."""
    rows = []
    for s in SCENARIOS:
        o = outcomes[s.id]
        runs = sorted({(r.generation, r.attempt) for r in o.runs})
        rows.append(
            f"{s.id:28} {s.point:26} died={o.died!s:5} converged={o.converge_seconds:6.1f} s runs={runs}"
        )
    with capsys.disabled():
        print("\nkill points covered:", len({s.point for s in SCENARIOS}), "\n" + "\n".join(rows))
    assert all(o.died for o in outcomes.values())
