"""OpenTelemetry traces: one tracer provider per process, configured from `OTEL_*`, off when unset.

The daemon builds one `Tracing` at start (`Tracing.from_env(DAEMON_SERVICE)`) and hands it to
the cycle (one `thunderline.reconcile` span per cycle) and the applier (`thunderline.federation.
start`, whose W3C `traceparent` travels to the ServerApp in the run's control block). The
ServerApp builds one per Flower run (`Tracing.from_env(APP_SERVICE, extra=...)`), joins the
federation's trace with `joined(traceparent)`, makes the round, aggregate, artifact-write and
completion spans, and calls `shutdown()` before the run ends so nothing is lost on exit.

Tracing is on when `OTEL_EXPORTER_OTLP_ENDPOINT` or `OTEL_EXPORTER_OTLP_TRACES_ENDPOINT` is set
(and neither `OTEL_SDK_DISABLED=true` nor `OTEL_TRACES_EXPORTER=none`); the exporter itself reads
the other standard variables (headers, timeout, certificates, compression), and the provider
reads the sampler ones. `OTEL_EXPORTER_OTLP_PROTOCOL` picks `http/protobuf` (default) or `grpc`.
Only the API is imported here at module level; the SDK and exporters load when tracing is on.
Headers are secrets: nothing here logs or repeats them.
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from opentelemetry import context as otel_context
from opentelemetry import trace
from opentelemetry.trace import Link, NoOpTracer, Span, Status, StatusCode
from opentelemetry.trace.propagation.tracecontext import TraceContextTextMapPropagator

from reconciler.telemetry.names import APP_SERVICE

if TYPE_CHECKING:
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import SpanExporter

log = logging.getLogger(__name__)

__all__ = [
    "OtlpTarget",
    "Tracing",
    "add_event",
    "env_target",
    "federation_attributes",
    "federation_tracing",
    "mark_failed",
    "spec_target",
    "traceparent",
]

PROTOCOLS = ("http/protobuf", "grpc")
TRACES_PATH = "/v1/traces"
FLUSH_TIMEOUT_MS = 10_000

_PROPAGATOR = TraceContextTextMapPropagator()


@dataclass(frozen=True)
class OtlpTarget:
    """Where spans go. `headers` may hold credentials: kept out of repr, never logged."""

    protocol: str  # "http/protobuf" or "grpc"
    endpoint: str = ""  # empty: the exporter reads OTEL_EXPORTER_OTLP_[TRACES_]ENDPOINT itself
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)


def env_target(env: Mapping[str, str]) -> OtlpTarget | None:
    """The operator's collector from the standard variables, or None when traces are off."""
    if env.get("OTEL_SDK_DISABLED", "").strip().lower() == "true":
        return None
    if env.get("OTEL_TRACES_EXPORTER", "otlp").strip().lower() != "otlp":
        return None  # "none", or an exporter this project does not ship
    if not (
        env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT") or env.get("OTEL_EXPORTER_OTLP_ENDPOINT")
    ):
        return None
    protocol = (
        env.get("OTEL_EXPORTER_OTLP_TRACES_PROTOCOL")
        or env.get("OTEL_EXPORTER_OTLP_PROTOCOL")
        or "http/protobuf"
    ).strip()
    if protocol not in PROTOCOLS:
        log.warning("OTLP protocol %r is not supported (%s): traces are off", protocol, PROTOCOLS)
        return None
    return OtlpTarget(protocol)


def traces_url(endpoint: str) -> str:
    """An OTLP/HTTP base endpoint as the traces URL (the rule for OTEL_EXPORTER_OTLP_ENDPOINT)."""
    base = endpoint.rstrip("/")
    return base if base.endswith(TRACES_PATH) else base + TRACES_PATH


def env_traces_url(env: Mapping[str, str]) -> str:
    explicit = env.get("OTEL_EXPORTER_OTLP_TRACES_ENDPOINT", "")
    return explicit or traces_url(env.get("OTEL_EXPORTER_OTLP_ENDPOINT", ""))


def spec_target(document: Mapping[str, Any], env: Mapping[str, str]) -> OtlpTarget | None:
    """A federation's own collector from its `spec.telemetry.otlp` block (OTLP/HTTP).

    None unless enabled with an `endpoint` other than the operator's: without one the spec's
    default is the operator's collector, which receives the spans already.
    """
    otlp = _section(_section(_section(document, "spec"), "telemetry"), "otlp")
    endpoint = otlp.get("endpoint")
    if not (otlp.get("enabled") is True and isinstance(endpoint, str) and endpoint):
        return None
    if urlsplit(endpoint).scheme not in ("http", "https"):
        return None
    url = traces_url(endpoint)
    if env_target(env) is not None and url == env_traces_url(env):
        return None
    raw = otlp.get("headers")
    headers = {str(k): str(v) for k, v in raw.items()} if isinstance(raw, Mapping) else {}
    return OtlpTarget("http/protobuf", url, headers)


def _section(body: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    value = body.get(key)
    return value if isinstance(value, Mapping) else {}


def _exporter(target: OtlpTarget) -> SpanExporter | None:
    if target.protocol == "grpc":
        try:
            from opentelemetry.exporter.otlp.proto.grpc.trace_exporter import (
                OTLPSpanExporter as GrpcExporter,
            )
        except ImportError:
            log.warning("OTLP over grpc needs opentelemetry-exporter-otlp-proto-grpc: traces off")
            return None
        return GrpcExporter(endpoint=target.endpoint or None, headers=dict(target.headers) or None)
    from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

    return OTLPSpanExporter(endpoint=target.endpoint or None, headers=dict(target.headers) or None)


class Tracing:
    """A tracer and the provider behind it; `Tracing.off()` records nothing."""

    def __init__(self, provider: TracerProvider | None = None) -> None:
        self._provider = provider
        self._tracer: trace.Tracer = (
            provider.get_tracer("thunderline") if provider is not None else NoOpTracer()
        )

    @classmethod
    def off(cls) -> Tracing:
        return cls(None)

    @classmethod
    def from_env(cls, service: str, *, extra: Sequence[OtlpTarget] = ()) -> Tracing:
        """Export to the `OTEL_*` collector and to each `extra` target; off when there are none."""
        own = env_target(os.environ)
        targets = [t for t in (own, *extra) if t is not None]
        exporters = [e for e in map(_exporter, targets) if e is not None]
        return cls.build(service, exporters) if exporters else cls.off()

    @classmethod
    def build(
        cls, service: str, exporters: Sequence[SpanExporter], *, batch: bool = True
    ) -> Tracing:
        """A provider for `exporters` (tests pass an in-memory one with `batch=False`)."""
        from opentelemetry.sdk.resources import Resource
        from opentelemetry.sdk.trace import TracerProvider
        from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

        named = {} if os.environ.get("OTEL_SERVICE_NAME") else {"service.name": service}
        provider = TracerProvider(resource=Resource.create(named), shutdown_on_exit=False)
        for exporter in exporters:
            processor = BatchSpanProcessor(exporter) if batch else SimpleSpanProcessor(exporter)
            provider.add_span_processor(processor)
        return cls(provider)

    @property
    def enabled(self) -> bool:
        return self._provider is not None

    @contextmanager
    def span(
        self, name: str, attributes: Mapping[str, Any] | None = None, *, new_trace: bool = False
    ) -> Iterator[Span]:
        """A span under the current one; `new_trace` starts a trace linked to the current span.

        An exception leaving the block is recorded on the span and marks it as an error.
        """
        context, links = None, []
        if new_trace:
            current = trace.get_current_span().get_span_context()
            context = otel_context.Context()
            links = [Link(current)] if current.is_valid else []
        with self._tracer.start_as_current_span(
            name, context=context, links=links, attributes=dict(attributes or {})
        ) as span:
            yield span

    @contextmanager
    def joined(self, traceparent: str) -> Iterator[None]:
        """Make the remote span in `traceparent` the parent of spans started in the block."""
        if not traceparent:
            yield
            return
        token = otel_context.attach(_PROPAGATOR.extract({"traceparent": traceparent}))
        try:
            yield
        finally:
            otel_context.detach(token)

    def shutdown(self) -> None:
        """Export what is buffered, then stop; safe to call twice."""
        if self._provider is not None:
            self._provider.force_flush(FLUSH_TIMEOUT_MS)
            self._provider.shutdown()
            self._provider = None
            self._tracer = NoOpTracer()


def traceparent(span: Span) -> str:
    """The W3C traceparent of `span`, or "" for a span that is not recording anything."""
    carrier: dict[str, str] = {}
    _PROPAGATOR.inject(carrier, context=trace.set_span_in_context(span))
    return carrier.get("traceparent", "")


def mark_failed(span: Span, reason: str) -> None:
    span.set_status(Status(StatusCode.ERROR, reason))


def federation_attributes(federation: str, **more: Any) -> dict[str, Any]:
    """DESIGN.md's span attributes for one federation ("tenant/name"), plus any `more`."""
    return {"federation_id": federation, "tenant": federation.partition("/")[0], **more}


def add_event(name: str, attributes: Mapping[str, Any]) -> None:
    """An event on the current span (a no-op outside any recording span)."""
    trace.get_current_span().add_event(name, dict(attributes))


def federation_tracing(federation_json: str) -> Tracing:
    """The ServerApp's tracing for one run: the operator's collector plus the spec's own."""
    try:
        document = json.loads(federation_json)
    except ValueError:
        document = None  # the run itself reports the malformed spec
    target = spec_target(document, os.environ) if isinstance(document, Mapping) else None
    return Tracing.from_env(APP_SERVICE, extra=[target] if target else [])
