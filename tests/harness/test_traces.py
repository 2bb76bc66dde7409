"""Spans written by the services' exporter, read back as traces and waterfalls."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest
from opentelemetry import propagate
from opentelemetry.sdk.trace import TracerProvider
from opentelemetry.sdk.trace.export import SimpleSpanProcessor
from opentelemetry.trace import SpanKind, Status, StatusCode

from harness.traces import Span, booking_trace, load_spans, pick_traces, unanswered, waterfall
from system_under_test.common import tracing
from system_under_test.common.settings import ServiceSettings

pytestmark = pytest.mark.unit


def _provider(run_dir: Path, service: str, ratio: float = 1.0) -> TracerProvider:
    settings = ServiceSettings(
        name=service, traces_dir=str(run_dir / "traces"), trace_sample_ratio=ratio
    )
    provider = tracing._build_provider(settings)
    return provider


@pytest.fixture
def run_dir(tmp_path: Path) -> Iterator[Path]:
    yield tmp_path


CHARGE = "/charges/7c2e2bd4-5376-40a7-9c69-5ac80bfb2688"


def _booking(
    run_dir: Path, booking_id: str, *, fail_charge: bool = False, refused: bool = False
) -> None:
    """A gateway request calling bookings, which calls payments, in three providers (three
    processes' worth of files), the context crossing as W3C headers."""
    gateway, bookings, payments = (
        _provider(run_dir, name) for name in ("gateway", "bookings", "payments")
    )
    g, b, p = (x.get_tracer("test") for x in (gateway, bookings, payments))
    with g.start_as_current_span("POST /api/bookings", kind=SpanKind.SERVER) as root:
        root.set_attribute("http.response.status_code", 201)
        with g.start_as_current_span("POST", kind=SpanKind.CLIENT):
            headers: dict[str, str] = {}
            propagate.inject(headers)
            with b.start_as_current_span(
                "POST /bookings", context=propagate.extract(headers), kind=SpanKind.SERVER
            ):
                tracing.tag(booking_id=booking_id)
                if refused:
                    tracing.note(f"PUT {CHARGE}: breaker open", downstream="payments")
                with b.start_as_current_span("PUT", kind=SpanKind.CLIENT) as call:
                    call.set_attribute("http.url", f"http://127.0.0.1:1{CHARGE}?x=1")
                    call.set_attribute("http.status_code", 500 if fail_charge else 201)
                    headers = {}
                    propagate.inject(headers)
                    with p.start_as_current_span(
                        "PUT /charges/{booking_id}",
                        context=propagate.extract(headers),
                        kind=SpanKind.SERVER,
                    ):
                        time.sleep(0.002)
                    if fail_charge:
                        call.set_status(Status(StatusCode.ERROR))
    for provider in (gateway, bookings, payments):
        provider.shutdown()


def test_spans_written_by_services_read_back_as_one_trace(run_dir: Path):
    _booking(run_dir, "b-1")
    assert sorted(p.name for p in (run_dir / "traces").iterdir()) == [
        "bookings.jsonl",
        "gateway.jsonl",
        "payments.jsonl",
    ]
    spans = load_spans(run_dir)
    assert len(spans) == 5
    trace = booking_trace(spans, "b-1")
    assert len(trace) == 5 and len({s.trace_id for s in trace}) == 1
    assert booking_trace(spans, "another") == []


def test_the_waterfall_is_depth_first_and_relative_to_the_first_span(run_dir: Path):
    _booking(run_dir, "b-1")
    rows = waterfall(load_spans(run_dir))
    assert [(r.service, r.name, r.depth) for r in rows] == [
        ("gateway", "POST /api/bookings", 0),
        ("gateway", "POST", 1),
        ("bookings", "POST /bookings", 2),
        ("bookings", "PUT /charges/{id}", 3),
        ("payments", "PUT /charges/{booking_id}", 4),
    ]
    assert rows[0].start_ms == 0
    assert all(r.start_ms >= 0 for r in rows)
    # a child starts no earlier than its parent and ends no later
    for parent, child in itertools.pairwise(rows):
        assert child.start_ms >= parent.start_ms
        assert child.start_ms + child.duration_ms <= parent.start_ms + parent.duration_ms + 1e-3


def test_a_call_whose_server_span_is_not_written_yet_is_unanswered(run_dir: Path):
    _booking(run_dir, "b-1")
    assert unanswered(load_spans(run_dir)) == []
    (run_dir / "traces" / "payments.jsonl").unlink()
    assert [s.label for s in unanswered(load_spans(run_dir))] == ["PUT /charges/{id}"]


def test_a_cut_line_is_skipped(run_dir: Path):
    _booking(run_dir, "b-1")
    with (run_dir / "traces" / "gateway.jsonl").open("a") as f:
        f.write('{"trace_id": "ab", "span_')  # a service killed mid-write
    assert len(load_spans(run_dir)) == 5


def test_pick_traces_takes_failed_and_slowest_requests_inside_each_window(run_dir: Path):
    _booking(run_dir, "ok")
    middle = time.time()
    time.sleep(0.01)
    _booking(run_dir, "failed", fail_charge=True)
    _booking(run_dir, "ok-2")
    end = time.time()
    spans = load_spans(run_dir)
    picked = pick_traces(spans, [("before", 0.0, middle), ("fault", middle, end)], per_window=2)
    by_window = {(p["window"], p["why"]) for p in picked}
    assert by_window == {("before", "slowest"), ("fault", "failed"), ("fault", "slowest")}
    failed = next(p for p in picked if p["why"] == "failed")
    assert failed["trace_id"] == booking_trace(spans, "failed")[0].trace_id
    assert [r["status"] for r in failed["rows"]].count("error") == 1
    assert failed["rows"][0]["service"] == "gateway" and failed["status"] == 201
    assert sum(p["window"] == "fault" for p in picked) == 2
    assert pick_traces(spans, [("later", end + 1, end + 2)]) == []


def test_root_client_spans_are_not_recorded_and_requests_are(run_dir: Path):
    provider = _provider(run_dir, "bookings")
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as poll:
        assert not poll.is_recording()  # a background loop's query starts no trace
    with tracer.start_as_current_span("GET /bookings", kind=SpanKind.SERVER) as served:
        assert served.is_recording()
        with tracer.start_as_current_span("SELECT", kind=SpanKind.CLIENT) as query:
            assert query.is_recording()
    provider.shutdown()


def test_a_callers_not_sampled_is_decided_again_by_the_trace_id(run_dir: Path):
    provider = _provider(run_dir, "gateway")
    tracer = provider.get_tracer("test")
    unsampled = {"traceparent": "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00"}
    with tracer.start_as_current_span(
        "GET /api/x", context=propagate.extract(unsampled), kind=SpanKind.SERVER
    ) as span:
        assert span.is_recording()
        assert f"{span.get_span_context().trace_id:032x}" == "4bf92f3577b34da6a3ce929d0e0e4736"
    provider.shutdown()
    none = _provider(run_dir, "users", ratio=0.0)
    with none.get_tracer("test").start_as_current_span("GET", kind=SpanKind.SERVER) as span:
        assert not span.is_recording()
    none.shutdown()


def test_the_outbox_context_continues_the_trace_it_was_stored_in(run_dir: Path):
    provider = _provider(run_dir, "bookings")
    provider.add_span_processor(SimpleSpanProcessor(tracing.JsonLinesExporter(run_dir / "x")))
    tracer = provider.get_tracer("test")
    with tracer.start_as_current_span("POST /bookings", kind=SpanKind.SERVER) as request:
        stored = tracing.current_context()
    assert stored["traceparent"].split("-")[1] == f"{request.get_span_context().trace_id:032x}"
    with (
        tracing.continued(stored),
        tracer.start_as_current_span("publish", kind=SpanKind.PRODUCER) as publish,
    ):
        assert publish.parent is not None
        assert publish.parent.span_id == request.get_span_context().span_id
    with tracing.continued(None), tracer.start_as_current_span("p", kind=SpanKind.PRODUCER) as s:
        assert s.parent is None
    provider.shutdown()


def test_span_model_reads_what_the_exporter_writes(run_dir: Path):
    _booking(run_dir, "b-1", fail_charge=True)
    spans = load_spans(run_dir)
    assert all(isinstance(s, Span) for s in spans)
    failed = [s for s in spans if s.failed]
    assert [(s.service, s.kind) for s in failed] == [("bookings", "CLIENT")]


def test_a_refused_call_is_a_failed_mark_in_its_time(run_dir: Path):
    _booking(run_dir, "b-1", refused=True)
    rows = waterfall(load_spans(run_dir))
    mark = rows[3]
    assert (mark.service, mark.name, mark.depth) == (
        "bookings",
        "PUT /charges/{id}: breaker open",
        3,
    )
    assert (mark.duration_ms, mark.status) == (0.0, "error")
    assert rows[2].start_ms <= mark.start_ms <= rows[4].start_ms
    picked = pick_traces(load_spans(run_dir), [("w", 0.0, time.time())])
    assert [p["why"] for p in picked] == ["failed"]


def test_with_an_otlp_endpoint_spans_are_sent_there(
    run_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import (
        ExportTraceServiceRequest,
    )

    received: list[tuple[str, str, bytes]] = []

    class Collector(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            received.append((self.path, self.headers["Content-Type"], body))
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = HTTPServer(("127.0.0.1", 0), Collector)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        monkeypatch.setenv(tracing.ENDPOINT_ENV, f"http://127.0.0.1:{server.server_port}")
        provider = tracing._build_provider(ServiceSettings(name="payments"))
        with provider.get_tracer("test").start_as_current_span(
            "PUT /charges", kind=SpanKind.SERVER
        ):
            pass
        assert provider.force_flush(10_000)
        provider.shutdown()
    finally:
        server.shutdown()
    assert not (run_dir / "traces").exists()  # no directory set: no files
    (path, content_type, body) = received[0]
    assert (path, content_type) == ("/v1/traces", "application/x-protobuf")
    request = ExportTraceServiceRequest.FromString(body)
    [resource] = request.resource_spans
    service = {a.key: a.value.string_value for a in resource.resource.attributes}["service.name"]
    names = [s.name for scope in resource.scope_spans for s in scope.spans]
    assert (service, names) == ("payments", ["PUT /charges"])
