"""A real Prometheus server scrapes the daemon's /metrics during a federation and its query
API returns the round counter with the federation's labels."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from reconciler.model import Phase
from tests.daemon.conftest import World
from tests.telemetry.servers import Prometheus

pytestmark = [pytest.mark.pg, pytest.mark.git]

QUERY = "fl_rounds_completed_total"


def test_prometheus_sees_rounds_of_a_running_federation(
    world: World, start_prometheus: Callable[[list[str]], Prometheus]
) -> None:
    world.cycle()
    (run_id,) = world.run_ids()
    world.runtime.advance(run_id)
    assert world.record().phase is Phase.RUNNING  # round 1 of 5: the federation is under way
    prometheus = start_prometheus([world.daemon.http.url.removeprefix("http://")])

    series = prometheus.wait_for(QUERY)

    assert len(series) == 1, series
    labels, (_, first) = series[0]["metric"], series[0]["value"]
    assert (labels["__name__"], labels["tenant"], labels["federation"]) == (
        QUERY,
        "acme",
        "digits-fedavg",
    )
    assert first == "1"
    world.runtime.advance(run_id)
    assert prometheus.wait_for(f"{QUERY} == 2"), "the second round never reached Prometheus"
    up = prometheus.query('up{job="thunderline"}')
    assert [s["value"][1] for s in up] == ["1"]
