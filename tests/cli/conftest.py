"""Fixtures for the CLI tests: a real PostgreSQL database with recorded federations, the
full `reconciler` parser, and golden files.

Golden files hold the output with the run's timestamps, ages, event ids and database names
replaced by placeholders; `UPDATE_GOLDEN=1` rewrites them.
"""

from __future__ import annotations

import os
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import main
from reconciler.model import Phase
from reconciler.store import Store
from tests.conftest import fresh_database
from tests.store.conftest import make_spec, walk

GOLDEN = Path(__file__).parent / "golden"
_MASKS = (
    (re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(\+00:00|Z)"), "<time>"),
    (re.compile(r"(?m)^(acme|beta)(\s+\S+\s+\S+\s+\S+\s+.*?)\s+\d+[smhd]$"), r"\1\2  <age>"),
)


def cli(*argv: str) -> int:
    return main(list(argv))


def masked(text: str) -> str:
    for pattern, replacement in _MASKS:
        text = pattern.sub(replacement, text)
    return text


def check_golden(name: str, text: str) -> None:
    golden = GOLDEN / name
    shown = masked(text)
    if os.environ.get("UPDATE_GOLDEN"):
        golden.write_text(shown)
    assert shown == golden.read_text()


@pytest.fixture(scope="module")
def recorded() -> Iterator[str]:
    """One database per module, read only by the tests: acme/digits at generation 2
    (replaced after a first run), rounds 1-2 of 5 done with metrics and a checkpoint each, a
    run per generation; beta/chat: Pending."""
    with fresh_database() as url:
        record_sample(url)
        yield url


def record_sample(pg_url: str) -> None:
    with Store.connect(pg_url) as store:
        store.migrate()
        key = store.create(make_spec("digits", rounds={"total": 3})).key
        walk(store, key, Phase.STARTING)
        store.record_run(key, generation=1, attempt=1, run_id=101, status="finished")
        store.update_run_status(101, "finished", "stopped")
        walk(store, key, Phase.STOPPED)
        fed = store.get(key)
        store.replace_spec(
            key,
            make_spec("digits", rounds={"total": 5}, strategy={"name": "fedprox"}),
            expected_version=fed.version,
            to=Phase.PENDING,
            changed=["spec.strategy.name", "spec.rounds.total"],
            reason="SpecChanged",
        )
        walk(store, key, Phase.STARTING, Phase.RUNNING)
        store.record_run(key, generation=2, attempt=1, run_id=202, status="running")
        for number, accuracy, loss in ((1, 0.812345, 0.5), (2, 0.793, 0.45)):
            store.round_started(key, 2, number)
            store.round_completed(
                key, 2, number, {"accuracy": accuracy, "loss": loss, "num_clients": 3.0}
            )
            store.artifact_recorded(
                key,
                2,
                number,
                uri=f"file:///ckpt/r{number}.npz",
                sha256=f"{number}" * 64,
                size=9,
                format="npz",
            )
        store.create(make_spec("chat", tenant="beta"))
