"""bookings as a provider, with real facilities and payments behind it.

Bookings in a state are made the way a client makes them: through bookings' own service,
whose saga reserves at the real facilities and charges at the real payments. Its events are
taken from the broker, where its outbox relay publishes them.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fastapi import FastAPI
from pact.types import Message

from contracts.provider.outage import add_database_outage
from contracts.provider.tables import truncate
from contracts.provider.tap import EventTap
from contracts.provider.verify import ProviderStates
from contracts.serving import Served
from system_under_test.bookings.domain import Booking, BookingStatus
from system_under_test.bookings.orm import metadata

EVENTS = ("booking.confirmed", "booking.cancelled", "booking.rejected")
CARD_OK = "pm_card_visa"
CARD_DECLINED = "pm_card_chargeDeclined"
DEFAULT_SLOT = ("2030-06-01T10:00:00+00:00", "2030-06-01T12:00:00+00:00")


@dataclass
class Downstreams:
    """The states of the real facilities and payments bookings talks to."""

    facilities: ProviderStates
    payments: ProviderStates


@dataclass
class BookingsProvider:
    served: Served
    app: FastAPI
    downstreams: Downstreams

    def reset(self) -> None:
        truncate(self.served, self.app, metadata, keep=("outbox",))
        for states in (self.downstreams.facilities, self.downstreams.payments):
            assert states.reset is not None
            states.reset()

    def free_facility(self, facility_id: str) -> None:
        self.downstreams.facilities.setups["a facility exists"](
            {"id": facility_id, "name": "Chapel of Rest", "capacity": 80}
        )

    def hold_by_another(self, facility_id: str, starts_at: str, ends_at: str) -> None:
        self.downstreams.facilities.setups["a reservation is held"](
            {
                "booking_id": str(uuid.uuid4()),
                "facility_id": facility_id,
                "starts_at": starts_at,
                "ends_at": ends_at,
            }
        )

    def place(self, p: dict[str, Any], card: str = CARD_OK) -> Booking:
        booking = Booking.create(
            id=uuid.UUID(p["id"]),
            user_id=uuid.UUID(p["user_id"]),
            facility_id=uuid.UUID(p["facility_id"]),
            starts_at=datetime.fromisoformat(p["starts_at"]),
            ends_at=datetime.fromisoformat(p["ends_at"]),
            amount_cents=int(p.get("amount_cents", 25000)),
            payment_method=card,
        )
        stored, _ = self.served.run(self.app.state.service.place(f"state-{booking.id}", booking))
        return stored.booking

    def placed(self, p: dict[str, Any], status: BookingStatus, card: str = CARD_OK) -> Booking:
        booking = self.place(p, card)
        if booking.status is not status:
            raise RuntimeError(f"state setup: booking ended {booking.status}, wanted {status}")
        return booking

    def states(self) -> ProviderStates:
        states = ProviderStates(reset=self.reset)

        @states.state("the facility is free")
        def _(p: dict[str, Any]) -> None:
            self.free_facility(p["id"])

        @states.state("a confirmed booking exists")
        def _(p: dict[str, Any]) -> None:
            self.free_facility(p["facility_id"])
            self.placed(p, BookingStatus.CONFIRMED)

        @states.state("a rejected booking exists")
        def _(p: dict[str, Any]) -> None:
            self.free_facility(p["facility_id"])
            self.hold_by_another(p["facility_id"], p["starts_at"], p["ends_at"])
            self.placed(p, BookingStatus.REJECTED)

        @states.state("no booking has the id")
        def _(p: dict[str, Any]) -> None:
            self.reset()

        add_database_outage(states, self.served, self.app)
        return states

    def event_of(self, tap: EventTap, outcome: BookingStatus) -> Message:
        """Place a booking that ends in `outcome`; return the event bookings published."""
        facility_id = str(uuid.uuid4())
        starts_at, ends_at = DEFAULT_SLOT
        p = {
            "id": str(uuid.uuid4()),
            "user_id": str(uuid.uuid4()),
            "facility_id": facility_id,
            "starts_at": starts_at,
            "ends_at": ends_at,
        }
        self.free_facility(facility_id)
        card = CARD_OK
        if outcome is BookingStatus.REJECTED:
            self.hold_by_another(facility_id, starts_at, ends_at)
        elif outcome is BookingStatus.CANCELLED:
            card = CARD_DECLINED
        self.placed(p, outcome, card)
        return tap.wait_for(lambda e: e.get("data", {}).get("booking_id") == p["id"])

    def messages(self, tap: EventTap) -> dict[str, Any]:
        return {
            f"a booking.{status.value} event": (lambda s=status: self.event_of(tap, s))
            for status in (BookingStatus.CONFIRMED, BookingStatus.CANCELLED, BookingStatus.REJECTED)
        }
