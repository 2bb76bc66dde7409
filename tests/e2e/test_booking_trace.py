"""One booking, one trace: from the gateway through bookings, facilities and payments, across the
broker to notifications, each hop the child of the one that called it."""

from __future__ import annotations

import itertools
import json
import secrets
from pathlib import Path
from typing import Any

import pytest

from harness import polling
from harness.suite_client import SuiteClient
from harness.traces import Span, booking_trace, load_spans, unanswered, waterfall

pytestmark = pytest.mark.e2e

SPANS_WITHIN_S = 30.0


def _one(spans: list[Span], what: str, **match: str) -> Span:
    found = [s for s in spans if all(getattr(s, k) == v for k, v in match.items())]
    assert found, f"no {what} span in the trace: {[(s.service, s.kind, s.name) for s in spans]}"
    return found[0]


def _ancestors(span: Span, by_id: dict[str, Span]) -> list[Span]:
    chain = []
    while span.parent_id is not None and span.parent_id in by_id:
        span = by_id[span.parent_id]
        chain.append(span)
    return chain


@pytest.fixture(scope="module")
def traced_booking(faultline_stack: Any) -> tuple[str, str, list[Span]]:
    """A confirmed booking placed through the gateway, its correlation id and its trace once
    the notification's consumer span is written."""
    with SuiteClient.for_stack(faultline_stack) as client:
        client.login()
        user = client.create_user(f"trace-{secrets.token_hex(5)}@example.com", "Traced family")
        hall = client.create_facility("Traced hall", 30)
        placed = client.try_book(user.id, hall.id, client.slots.take())
        assert placed.status in (201, 202), placed.body
        booking_id = placed.booking_id
        assert booking_id is not None
        correlation_id = placed.headers["x-correlation-id"]
        assert client.wait_settled([booking_id])[booking_id].status == "confirmed"
    run_dir = Path(faultline_stack.state.run_dir)
    found: list[Span] = []

    def written() -> bool:
        # Each service writes its spans in its own batches: wait for the notification's span
        # and for the tree to close at both ends, every span's parent written but the
        # gateway's, and every answered call's server span written.
        found[:] = booking_trace(load_spans(run_dir), booking_id)
        ids = {s.span_id for s in found}
        roots = [s for s in found if s.parent_id not in ids]
        notified = any(s.service == "notifications" and s.kind == "CONSUMER" for s in found)
        closed = len(roots) == 1 and roots[0].service == "gateway" and not unanswered(found)
        return notified and closed

    assert polling.until(written, within=SPANS_WITHIN_S, interval=0.25), found
    return booking_id, correlation_id, found


def test_the_booking_is_one_trace_across_every_service(traced_booking):
    _, _, spans = traced_booking
    assert len({s.trace_id for s in spans}) == 1
    assert {"gateway", "bookings", "facilities", "payments", "notifications"} <= {
        s.service for s in spans
    }
    by_id = {s.span_id: s for s in spans}
    roots = [s for s in spans if s.parent_id not in by_id]
    assert [(r.service, r.kind) for r in roots] == [("gateway", "SERVER")]


def _placed(spans: list[Span]) -> Span:
    return _one(spans, "bookings POST", service="bookings", kind="SERVER", name="POST /bookings")


def test_each_hop_is_the_child_of_its_caller(traced_booking):
    _, _, spans = traced_booking
    by_id = {s.span_id: s for s in spans}
    gateway = _one(spans, "gateway request", service="gateway", kind="SERVER")
    placed = _placed(spans)
    # Every server span but the gateway's answers a client span of another service.
    for server in (s for s in spans if s.kind == "SERVER" and s is not gateway):
        caller = by_id[server.parent_id or ""]
        assert caller.kind == "CLIENT" and caller.service != server.service, server
        assert gateway in _ancestors(caller, by_id)
    assert by_id[placed.parent_id or ""].service == "gateway"
    # The saga's steps: facilities reserves and confirms, payments charges, under bookings.
    steps = {
        (s.service, s.name)
        for s in spans
        if s.kind == "SERVER" and s.parent_id in by_id and by_id[s.parent_id].service == "bookings"
    }
    assert {
        ("facilities", "PUT /reservations/{booking_id}"),
        ("payments", "PUT /charges/{booking_id}"),
        ("facilities", "POST /reservations/{booking_id}/confirm"),
    } <= steps
    for server in spans:
        if (server.service, server.name) in steps:
            assert placed in _ancestors(server, by_id)


def test_the_event_crosses_the_broker_inside_the_trace(traced_booking):
    _, _, spans = traced_booking
    by_id = {s.span_id: s for s in spans}
    placed = _placed(spans)
    consumed = [s for s in spans if s.service == "notifications" and s.kind == "CONSUMER"]
    for consumer in consumed:
        # The relay published the outbox row later, inside the trace the row was written in.
        producer = by_id[consumer.parent_id or ""]
        assert (producer.service, producer.kind) == ("bookings", "PRODUCER")
        assert placed in _ancestors(producer, by_id)
    # The consumer's own work (its database statements) hangs under its span.
    assert any(
        s.service == "notifications" and s.kind == "CLIENT" and consumed[0] in _ancestors(s, by_id)
        for s in spans
    )


def test_the_waterfall_nests_the_trace(traced_booking):
    _, _, spans = traced_booking
    rows = waterfall(spans)
    assert len(rows) == len(spans)
    assert rows[0].service == "gateway" and rows[0].depth == 0 and rows[0].start_ms == 0
    # depth first: a row is at most one level deeper than the row before it
    assert all(b.depth <= a.depth + 1 for a, b in itertools.pairwise(rows))
    assert max(r.depth for r in rows) >= 4


def test_logs_link_the_correlation_id_to_the_trace(traced_booking, faultline_stack: Any):
    _, correlation_id, spans = traced_booking
    trace_id = spans[0].trace_id
    gateway = _one(spans, "gateway request", service="gateway", kind="SERVER")
    assert gateway.attributes.get("faultline.correlation_id") == correlation_id
    run_dir = Path(faultline_stack.state.run_dir)
    linked = set()
    for log in (run_dir / "logs").glob("*.log"):
        for line in log.read_text(encoding="utf-8", errors="replace").splitlines():
            if not line.startswith("{"):
                continue
            entry = json.loads(line)
            if entry.get("correlation_id") == correlation_id:
                assert entry.get("trace_id") == trace_id, entry
                linked.add(entry["service"])
    assert linked, "no log line carries the booking's correlation id"
