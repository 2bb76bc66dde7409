"""The saga against the real facilities and payments services (each with its own database)."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass

import httpx
import pytest
from conftest import eventually, serve

from system_under_test.facilities.app import FacilitiesSettings
from system_under_test.facilities.app import build_app as build_facilities
from system_under_test.payments.app import PaymentsSettings
from system_under_test.payments.app import build_app as build_payments

from .helpers import booking_body, outbox_events, place

pytestmark = pytest.mark.integration


@dataclass
class Real:
    facilities: httpx.AsyncClient
    payments: httpx.AsyncClient
    facility_id: str


@contextlib.asynccontextmanager
async def _ready_server(app) -> AsyncIterator[httpx.AsyncClient]:
    async with serve(app) as url, httpx.AsyncClient(base_url=url) as client:
        await eventually(lambda: _ready(client))
        yield client


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/ready")).status_code == 200


@pytest.fixture
async def real(make_database_url) -> AsyncIterator[Real]:
    facilities_app = build_facilities(
        FacilitiesSettings(database_url=make_database_url(), log_level="WARNING")
    )
    payments_app = build_payments(
        PaymentsSettings(database_url=make_database_url(), log_level="WARNING")
    )
    async with _ready_server(facilities_app) as f, _ready_server(payments_app) as p:
        created = await f.post("/facilities", json={"name": "Chapel of Rest", "capacity": 80})
        assert created.status_code == 201
        yield Real(f, p, created.json()["id"])


@pytest.fixture
async def bookings_on_real(start_bookings, real) -> AsyncIterator[httpx.AsyncClient]:
    urls = {"facilities_url": str(real.facilities.base_url).rstrip("/")}
    urls["payments_url"] = str(real.payments.base_url).rstrip("/")
    async with start_bookings(**urls) as client:
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
