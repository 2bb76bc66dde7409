"""The booking flow `faultline demo` (`make run`) runs, against the session stack."""

from __future__ import annotations

import pytest

from harness.booking_flow import BookingFlow
from harness.processes import free_port

pytestmark = pytest.mark.e2e


def test_every_step_of_the_demo_flow_passes(faultline_stack):
    flow = BookingFlow(faultline_stack.gateway_url, faultline_stack.url("notifications"))
    try:
        steps = list(flow.run())
    finally:
        flow.close()
    assert [s.name for s in steps] == [title for title, _, _ in flow.steps()]
    failed = [f"{s.name}: {s.detail}" for s in steps if not s.ok]
    assert failed == []
    by_name = {s.name: s.detail for s in steps}
    assert "slot_unavailable" in by_name["book the same slot again"]
    assert "payment_declined" in by_name["book with a declined card"]
    assert "one per event" in by_name["notifications"]


def test_the_flow_stops_at_the_first_required_step_that_fails():
    flow = BookingFlow(f"http://127.0.0.1:{free_port()}")
    try:
        steps = list(flow.run())
    finally:
        flow.close()
    assert len(steps) == 1
    assert steps[0].name == "token" and not steps[0].ok
    assert "no answer" in steps[0].detail
