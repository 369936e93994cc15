"""`make demo`'s progress lines, against a real PostgreSQL: one per phase change or
completed round, each with that round's number and metrics."""

from __future__ import annotations

import io
import re
import threading
import time

import pytest

from reconciler.demo import follow
from reconciler.model import Phase
from reconciler.store import Store
from tests.store.conftest import make_spec, walk

pytestmark = pytest.mark.pg


def test_one_line_per_completed_round_even_when_the_next_starts_first(pg_url: str) -> None:
    out = io.StringIO()
    with Store.connect(pg_url) as store:
        store.migrate()
        key = store.create(make_spec("digits", rounds={"total": 2})).key

        def federation() -> None:
            steps = [
                lambda: walk(store, key, Phase.STARTING),
                lambda: walk(store, key, Phase.RUNNING),
                lambda: store.round_started(key, 1, 1),
                lambda: store.round_started(key, 1, 2),  # before round 1's metrics
                lambda: store.round_completed(key, 1, 1, {"accuracy": 0.5, "clients": 3.0}),
                lambda: store.round_completed(key, 1, 2, {"accuracy": 0.75, "clients": 3.0}),
                lambda: walk(store, key, Phase.COMPLETED),
            ]
            for step in steps:
                time.sleep(0.8)  # longer than follow's 0.5 s poll: every state is seen
                step()

        writer = threading.Thread(target=federation)
        writer.start()
        try:
            finished = follow(store, out, timeout=30, stop=lambda: False)
        finally:
            writer.join(timeout=30)

    lines = [re.sub(r"^\[\s*\d+s\] ", "", line).split() for line in out.getvalue().splitlines()]
    assert finished
    assert lines == [
        ["acme/digits", "Pending", "round", "0/2"],
        ["acme/digits", "Starting", "round", "0/2"],
        ["acme/digits", "Running", "round", "0/2"],
        ["acme/digits", "Running", "round", "1/2", "accuracy=0.5", "clients=3"],
        ["acme/digits", "Running", "round", "2/2", "accuracy=0.75", "clients=3"],
        ["acme/digits", "Completed", "round", "2/2", "accuracy=0.75", "clients=3"],
    ]
