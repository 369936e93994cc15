"""A real OTLP collector (rotel) receives the daemon's spans: one per reconcile cycle, and the
federation's launch span whose context is the traceparent handed to the run."""

from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.telemetry.names import DAEMON_SERVICE, FEDERATION_START, RECONCILE
from tests.daemon.conftest import SPEC, SPEC_PATH, make_world
from tests.telemetry.servers import Rotel, SpanDump

pytestmark = [pytest.mark.pg, pytest.mark.git]


def named(spans: list[SpanDump], name: str) -> list[SpanDump]:
    return [s for s in spans if s.name == name]


@pytest.mark.parametrize("protocol", ["http/protobuf", "grpc"])
def test_collector_receives_cycle_and_launch_spans(
    tmp_path: Path, pg_url: str, rotel: Rotel, monkeypatch: pytest.MonkeyPatch, protocol: str
) -> None:
    endpoint = rotel.http if protocol == "http/protobuf" else f"http://{rotel.grpc}"
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", endpoint)
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_PROTOCOL", protocol)
    monkeypatch.delenv("OTEL_SERVICE_NAME", raising=False)
    world = make_world(tmp_path, pg_url)
    try:
        world.cycle()
        request = world.runtime.runs[1].request
    finally:
        world.daemon.stop()  # exports what is buffered
        world.store.close()

    spans = rotel.wait_for(lambda got: named(got, FEDERATION_START) and named(got, RECONCILE))

    (start,) = named(spans, FEDERATION_START)
    assert start.service == DAEMON_SERVICE
    assert start.attributes["federation_id"] == "acme/digits-fedavg"
    assert start.attributes["tenant"] == "acme"
    assert start.attributes["round_num"] == "1"
    _, trace_id, span_id, _ = request.traceparent.split("-")
    assert (trace_id, span_id) == (start.trace_id, start.span_id)
    cycles = named(spans, RECONCILE)
    assert cycles and all(c.attributes["result"] == "success" for c in cycles)
    assert start.trace_id not in {c.trace_id for c in cycles}  # its own trace, linked


def test_federations_started_in_bulk_each_get_their_own_trace(
    tmp_path: Path, pg_url: str, rotel: Rotel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", rotel.http)
    second = SPEC.replace("name: digits-fedavg", "name: digits-second")
    files = {SPEC_PATH: SPEC, "specs/acme/digits-second.yaml": second}
    world = make_world(tmp_path, pg_url, files=files)
    try:
        world.cycle()
        requests = {str(run.request.key): run.request for run in world.runtime.runs.values()}
    finally:
        world.daemon.stop()
        world.store.close()

    spans = rotel.wait_for(lambda got: len(named(got, FEDERATION_START)) == 2)

    starts = {s.attributes["federation_id"]: s for s in named(spans, FEDERATION_START)}
    assert set(starts) == set(requests) == {"acme/digits-fedavg", "acme/digits-second"}
    for federation, request in requests.items():
        assert request.traceparent.split("-")[1] == starts[federation].trace_id


def test_no_endpoint_means_no_spans_and_no_traceparent(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    world = make_world(tmp_path, pg_url)
    try:
        world.cycle()
        assert not world.daemon.tracing.enabled
        assert world.runtime.runs[1].request.traceparent == ""
    finally:
        world.daemon.stop()
        world.store.close()
