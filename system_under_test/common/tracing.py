"""OpenTelemetry traces: one tracer provider per service process, the instrumentations, and
the trace context that an outbox row carries from its transaction to the relay's publish.

Spans go to OTLP over HTTP when `OTEL_EXPORTER_OTLP_ENDPOINT` is set (the exporter reads the
standard `OTEL_EXPORTER_OTLP_*` variables), and as JSON lines to `<SVC_TRACES_DIR>/<service>.jsonl`
when that directory is set (the stack sets it to the run's `traces/`); both when both are.
`SVC_TRACING=false` turns all of it off. A span that would start a trace of its own as a client
(a database query or an HTTP call of a background loop: the outbox poll, saga recovery) is not
recorded: traces begin where work comes in, at a request or a message.
"""

from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO, Any

from fastapi import FastAPI
from opentelemetry import context as otel_context
from opentelemetry import metrics, propagate, trace
from opentelemetry.sdk.resources import Resource
from opentelemetry.sdk.trace import ReadableSpan, TracerProvider
from opentelemetry.sdk.trace.export import BatchSpanProcessor, SpanExporter, SpanExportResult
from opentelemetry.sdk.trace.sampling import (
    Decision,
    ParentBased,
    Sampler,
    SamplingResult,
    TraceIdRatioBased,
)
from opentelemetry.trace import SpanKind
from sqlalchemy.ext.asyncio import AsyncEngine

from .settings import ServiceSettings

log = logging.getLogger(__name__)

# Never a span of their own: the harness polls them all the time.
UNTRACED_PATHS = "/health,/ready,/metrics"
# How often queued spans are written: soon enough that a test or the audit reads a booking's
# spans a moment after it finished, seldom enough to write in batches under load.
EXPORT_DELAY_MS = 500
ENDPOINT_ENV = "OTEL_EXPORTER_OTLP_ENDPOINT"
# Marks an event added by `note` (an instrumentation's own events are not written).
NOTE_ATTRIBUTE = "faultline.note"

_provider: TracerProvider | None = None
_lock = threading.Lock()


class JsonLinesExporter(SpanExporter):
    """One JSON object per finished span, appended to a file (flushed per batch, no fsync)."""

    def __init__(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        self.path = path
        self._file: IO[str] | None = path.open("a", encoding="utf-8")

    def export(self, spans: Sequence[ReadableSpan]) -> SpanExportResult:
        if self._file is None:
            return SpanExportResult.FAILURE
        lines = "".join(json.dumps(span_record(span), default=str) + "\n" for span in spans)
        self._file.write(lines)
        self._file.flush()
        return SpanExportResult.SUCCESS

    def shutdown(self) -> None:
        if self._file is not None:
            self._file.close()
            self._file = None

    def force_flush(self, timeout_millis: int = 30000) -> bool:
        return True


def span_record(span: ReadableSpan) -> dict[str, Any]:
    """The line a span is written as (read back by harness/traces.py)."""
    ctx = span.get_span_context()
    parent = span.parent
    service = span.resource.attributes.get("service.name", "")
    return {
        "trace_id": f"{ctx.trace_id:032x}" if ctx else "",
        "span_id": f"{ctx.span_id:016x}" if ctx else "",
        "parent_id": f"{parent.span_id:016x}" if parent is not None else None,
        "name": span.name,
        "kind": span.kind.name,
        "service": service,
        "start_ns": span.start_time,
        "end_ns": span.end_time,
        "status": span.status.status_code.name,
        "attributes": dict(span.attributes or {}),
        "notes": [
            {"name": event.name, "time_ns": event.timestamp}
            for event in span.events
            if (event.attributes or {}).get(NOTE_ATTRIBUTE)
        ],
    }


class _StartsAtWork(Sampler):
    """Root spans: a request or a message is sampled at `ratio`; a client span with no parent
    (a background loop's query or call) is dropped."""

    def __init__(self, ratio: float) -> None:
        self._ratio = TraceIdRatioBased(ratio)

    def should_sample(
        self,
        parent_context: otel_context.Context | None,
        trace_id: int,
        name: str,
        kind: SpanKind | None = None,
        attributes: Any = None,
        links: Any = None,
        trace_state: Any = None,
    ) -> SamplingResult:
        if kind in (SpanKind.CLIENT, SpanKind.INTERNAL):
            return SamplingResult(Decision.DROP)
        return self._ratio.should_sample(
            parent_context, trace_id, name, kind, attributes, links, trace_state
        )

    def get_description(self) -> str:
        return f"StartsAtWork({self._ratio.get_description()})"


def enabled(settings: ServiceSettings) -> bool:
    return settings.tracing


def _build_provider(settings: ServiceSettings) -> TracerProvider:
    resource = Resource.create(
        {"service.name": settings.name, "service.namespace": settings.namespace}
    )
    # A caller's "not sampled" is decided again, by the trace id as at the root, so the same
    # trace is kept in every service, and a client process whose own root spans are dropped
    # (a test process with httpx instrumented) does not switch the suite's traces off.
    starts = _StartsAtWork(settings.trace_sample_ratio)
    sampler = ParentBased(root=starts, remote_parent_not_sampled=starts)
    provider = TracerProvider(resource=resource, sampler=sampler)
    if os.environ.get(ENDPOINT_ENV):
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    if settings.traces_dir:
        path = Path(settings.traces_dir) / f"{settings.name}.jsonl"
        provider.add_span_processor(
            BatchSpanProcessor(JsonLinesExporter(path), schedule_delay_millis=EXPORT_DELAY_MS)
        )
    return provider


def setup(settings: ServiceSettings) -> TracerProvider | None:
    """The process's tracer provider (made by the first service set up in it) with the httpx
    and aio-pika instrumentations; None when tracing is off."""
    global _provider
    if not enabled(settings):
        return None
    with _lock:
        if _provider is None:
            from opentelemetry.instrumentation.aio_pika import AioPikaInstrumentor
            from opentelemetry.instrumentation.httpx import HTTPXClientInstrumentor

            _provider = _build_provider(settings)
            trace.set_tracer_provider(_provider)
            HTTPXClientInstrumentor().instrument(tracer_provider=_provider)
            AioPikaInstrumentor().instrument(tracer_provider=_provider)
    return _provider


def instrument_app(app: FastAPI, settings: ServiceSettings) -> None:
    """A server span per request (not for the probes and metrics), child of the caller's."""
    provider = setup(settings)
    if provider is None:
        return
    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(
        app,
        tracer_provider=provider,
        excluded_urls=UNTRACED_PATHS,
        # The ASGI send/receive spans would double the spans of every request for nothing.
        exclude_spans=["receive", "send"],
    )


def instrument_engine(engine: AsyncEngine, settings: ServiceSettings) -> None:
    """A client span per statement on this engine.

    The engine's own tracer rather than `SQLAlchemyInstrumentor().instrument()`: that one
    instruments only the first engine of a process and adds a span per connection checkout.
    """
    provider = setup(settings)
    if provider is None or not settings.trace_database:
        return
    from opentelemetry.instrumentation.sqlalchemy import __version__
    from opentelemetry.instrumentation.sqlalchemy.engine import EngineTracer

    tracer = trace.get_tracer("opentelemetry.instrumentation.sqlalchemy", __version__, provider)
    usage = metrics.get_meter(__name__).create_up_down_counter("db.client.connections.usage")
    EngineTracer(tracer, engine.sync_engine, usage)


def flush(timeout_s: float = 5.0) -> None:
    """Write out the spans queued so far (at a service's stop)."""
    if _provider is not None:
        _provider.force_flush(int(timeout_s * 1000))


def current_context() -> dict[str, str]:
    """The W3C trace context of the current span (`traceparent`, maybe `tracestate`), to be
    stored with work that continues later; empty when nothing is traced."""
    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier


@contextmanager
def continued(carrier: Mapping[str, str] | None) -> Iterator[None]:
    """Run the block inside the trace that `carrier` (from `current_context`) came from."""
    if not carrier:
        yield
        return
    token = otel_context.attach(propagate.extract(carrier, context=otel_context.Context()))
    try:
        yield
    finally:
        otel_context.detach(token)


def current_trace_id() -> str | None:
    """The current trace id (32 hex digits), for log lines; None outside any trace."""
    ctx = trace.get_current_span().get_span_context()
    return f"{ctx.trace_id:032x}" if ctx.is_valid else None


def note(what: str, **attributes: str | int | float | bool) -> None:
    """A failure on the current span where no span of its own exists (a call the breaker
    refused); the report's waterfall shows it as a mark in its time."""
    span = trace.get_current_span()
    if span.is_recording():
        fields = {f"faultline.{k}": v for k, v in attributes.items()}
        span.add_event(what, {**fields, NOTE_ATTRIBUTE: True})


def tag(**attributes: str | int | float | bool) -> None:
    """Name what the current span worked on (`faultline.<key>`), so a trace can be found by it."""
    span = trace.get_current_span()
    if span.is_recording():
        span.set_attributes({f"faultline.{k}": v for k, v in attributes.items()})
