"""Every HTTP edge and every event of the topology has a pact; a new edge without one fails."""

from __future__ import annotations

import dataclasses

import pytest

from contracts.coverage import missing_contracts
from harness.topology import Edge, Event, load_topology

pytestmark = pytest.mark.contract


def test_every_http_edge_and_event_has_a_pact():
    assert missing_contracts(load_topology()) == []


def test_an_edge_or_event_without_a_pact_is_reported():
    topology = load_topology()
    extended = dataclasses.replace(
        topology,
        edges=(*topology.edges, Edge(source="notifications", target="users", kind="http")),
        events=(
            *topology.events,
            Event(name="booking.refunded", producer="bookings", consumers=("notifications",)),
        ),
    )
    missing = missing_contracts(extended)
    assert len(missing) == 2
    assert "notifications->users" in missing[0]
    assert "booking.refunded" in missing[1]
