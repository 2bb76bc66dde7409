"""The saga against the real facilities and payments services (each with its own database)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import httpx
import pytest

from .helpers import booking_body, outbox_events, place

pytestmark = pytest.mark.integration


@pytest.fixture
async def bookings_on_real(start_bookings, real) -> AsyncIterator[httpx.AsyncClient]:
    async with start_bookings(**real.urls) as client:
        yield client


async def test_saga_paths_against_the_real_services(bookings_on_real, real):
    body = booking_body(facility_id=real.facility_id)
    confirmed = (await place(bookings_on_real, body)).json()
    assert confirmed["status"] == "confirmed"
    reservation = (await real.facilities.get(f"/reservations/{confirmed['id']}")).json()
    assert reservation["status"] == "confirmed"
    assert (await real.payments.get(f"/charges/{confirmed['id']}")).json()["status"] == "captured"

    rival = (await place(bookings_on_real, {**body, "user_id": str(uuid.uuid4())})).json()
    assert (rival["status"], rival["reason"]) == ("rejected", "slot_unavailable")
    assert (await real.payments.get(f"/charges/{rival['id']}")).status_code == 404

    later = booking_body(facility_id=real.facility_id, payment_method="pm_card_chargeDeclined")
    declined = (await place(bookings_on_real, later)).json()
    assert (declined["status"], declined["reason"]) == ("cancelled", "payment_declined")
    released = (await real.facilities.get(f"/reservations/{declined['id']}")).json()
    assert released["status"] == "released"

    cancel = await bookings_on_real.post(f"/bookings/{confirmed['id']}/cancel")
    assert cancel.status_code == 200 and cancel.json()["status"] == "cancelled"
    assert (await real.payments.get(f"/charges/{confirmed['id']}")).json()["status"] == "refunded"
    reservation = (await real.facilities.get(f"/reservations/{confirmed['id']}")).json()
    assert reservation["status"] == "released"

    # The freed slot can be booked again.
    again = (await place(bookings_on_real, {**body, "user_id": str(uuid.uuid4())})).json()
    assert again["status"] == "confirmed"

    database_url = bookings_on_real.app.state.settings.database_url
    assert [e["type"] for e in outbox_events(database_url)] == [
        "booking.confirmed",
        "booking.rejected",
        "booking.cancelled",
        "booking.cancelled",
        "booking.confirmed",
    ]

    unknown = (await place(bookings_on_real, booking_body(facility_id=str(uuid.uuid4())))).json()
    assert (unknown["status"], unknown["reason"]) == ("rejected", "facility_not_found")
