"""Which collector the OTEL_* variables and a spec's telemetry.otlp block select, and how the
trace context travels: pure decisions, and spans kept in the SDK's in-memory exporter."""

from __future__ import annotations

import logging
import subprocess
import sys

import pytest
from opentelemetry.sdk.trace.export.in_memory_span_exporter import InMemorySpanExporter
from opentelemetry.trace import StatusCode

from reconciler.telemetry.tracing import (
    OtlpTarget,
    Tracing,
    env_target,
    federation_tracing,
    spec_target,
    traceparent,
)

BASE = {"OTEL_EXPORTER_OTLP_ENDPOINT": "http://127.0.0.1:4318"}
SECRET = "tenant-api-key-do-not-print"


@pytest.mark.parametrize(
    ("env", "expected"),
    [
        ({}, None),
        (BASE, OtlpTarget("http/protobuf")),
        ({"OTEL_EXPORTER_OTLP_TRACES_ENDPOINT": "http://c:4318/v1/traces"}, OtlpTarget("http/protobuf")),
        ({**BASE, "OTEL_EXPORTER_OTLP_PROTOCOL": "grpc"}, OtlpTarget("grpc")),
        ({**BASE, "OTEL_EXPORTER_OTLP_TRACES_PROTOCOL": "grpc"}, OtlpTarget("grpc")),
        ({**BASE, "OTEL_SDK_DISABLED": "true"}, None),
        ({**BASE, "OTEL_TRACES_EXPORTER": "none"}, None),
    ],
)  # fmt: skip
def test_env_selects_the_operators_collector(env: dict[str, str], expected: OtlpTarget) -> None:
    assert env_target(env) == expected


def test_an_unsupported_protocol_turns_traces_off_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with caplog.at_level(logging.WARNING):
        assert env_target({**BASE, "OTEL_EXPORTER_OTLP_PROTOCOL": "http/json"}) is None
    assert "http/json" in caplog.text


def spec(**otlp: object) -> dict[str, object]:
    return {"spec": {"telemetry": {"otlp": otlp}}}


@pytest.mark.parametrize(
    ("document", "env", "expected"),
    [
        (spec(enabled=True, endpoint="http://tenant:4318"), {},
         OtlpTarget("http/protobuf", "http://tenant:4318/v1/traces")),
        (spec(enabled=True, endpoint="https://tenant/v1/traces/"), BASE,
         OtlpTarget("http/protobuf", "https://tenant/v1/traces")),
        (spec(enabled=False, endpoint="http://tenant:4318"), {}, None),
        (spec(enabled=True), BASE, None),  # the default endpoint is the operator's
        (spec(enabled=True, endpoint="http://127.0.0.1:4318/"), BASE, None),  # same collector
        (spec(enabled=True, endpoint="ftp://tenant"), {}, None),
        ({"spec": {"telemetry": "garbage"}}, {}, None),
    ],
)  # fmt: skip
def test_spec_adds_the_tenants_collector(
    document: dict[str, object], env: dict[str, str], expected: OtlpTarget | None
) -> None:
    assert spec_target(document, env) == expected


def test_spec_headers_reach_the_exporter_but_never_a_repr() -> None:
    target = spec_target(
        spec(enabled=True, endpoint="http://tenant:4318", headers={"api-key": SECRET}), {}
    )
    assert target is not None and target.headers == {"api-key": SECRET}
    assert SECRET not in repr(target)


def test_tracing_is_off_without_configuration(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("OTEL_EXPORTER_OTLP_ENDPOINT", "OTEL_EXPORTER_OTLP_TRACES_ENDPOINT"):
        monkeypatch.delenv(name, raising=False)
    tracing = federation_tracing('{"spec": {}}')
    assert not tracing.enabled
    with tracing.span("thunderline.round") as span:
        assert traceparent(span) == ""


def test_a_malformed_spec_leaves_tracing_to_the_environment(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OTEL_EXPORTER_OTLP_ENDPOINT", "http://127.0.0.1:9")
    tracing = federation_tracing("{not json")
    assert tracing.enabled
    tracing.shutdown()


def memory() -> tuple[Tracing, InMemorySpanExporter]:
    exporter = InMemorySpanExporter()
    return Tracing.build("test", [exporter], batch=False), exporter


def test_a_remote_parent_is_joined_across_processes() -> None:
    daemon, daemon_spans = memory()
    app, app_spans = memory()
    with daemon.span("thunderline.federation.start") as start:
        header = traceparent(start)
    with (
        app.joined(header),
        app.span("thunderline.round", {"round_num": 1}),
        app.span("thunderline.aggregate"),
    ):
        pass
    (parent,) = daemon_spans.get_finished_spans()
    aggregate, round_span = app_spans.get_finished_spans()
    assert round_span.context.trace_id == parent.context.trace_id
    assert round_span.parent is not None and round_span.parent.span_id == parent.context.span_id
    assert aggregate.parent is not None and aggregate.parent.span_id == round_span.context.span_id
    assert round_span.attributes == {"round_num": 1}


def test_a_new_trace_links_back_to_the_cycle() -> None:
    tracing, spans = memory()
    with tracing.span("thunderline.reconcile"), tracing.span("f.start", new_trace=True):
        pass
    start, cycle = spans.get_finished_spans()
    assert start.context.trace_id != cycle.context.trace_id
    assert start.parent is None
    assert [link.context.span_id for link in start.links] == [cycle.context.span_id]


def test_an_exception_marks_the_span_failed() -> None:
    tracing, spans = memory()
    with pytest.raises(RuntimeError), tracing.span("thunderline.round"):
        raise RuntimeError("round 2 timed out")
    (span,) = spans.get_finished_spans()
    assert span.status.status_code is StatusCode.ERROR
    assert "round 2 timed out" in (span.status.description or "")


def test_validate_path_does_not_load_opentelemetry() -> None:
    code = (
        "import sys, reconciler.cli.validate, reconciler.telemetry.names;"
        "print(sorted(m for m in sys.modules if m.startswith('opentelemetry')))"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
