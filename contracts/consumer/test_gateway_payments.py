"""gateway -> payments: the charge shown in a booking's details (null when there is none)."""

from __future__ import annotations

import pytest
from pact import Pact, match

from contracts.consumer.expectations import (
    AMOUNT_CENTS,
    BOOKING_ID,
    booking_exists,
    facility_exists,
    user_exists,
)
from contracts.consumer.gateway import gateway_client
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON, PROBLEM_JSON, problem, uuid

pytestmark = pytest.mark.contract


async def _details(payments: Pact):
    users, facilities, bookings = (
        Pact("gateway", "users"),
        Pact("gateway", "facilities"),
        Pact("gateway", "bookings"),
    )
    user_exists(users)
    facility_exists(facilities)
    booking_exists(bookings)
    with (
        mock_provider(users) as users_url,
        mock_provider(facilities) as facilities_url,
        mock_provider(bookings) as bookings_url,
        mock_provider(payments) as payments_url,
    ):
        async with gateway_client(
            users=users_url, facilities=facilities_url, bookings=bookings_url, payments=payments_url
        ) as gw:
            return await gw.get(f"/api/bookings/{BOOKING_ID}/details")


async def test_booking_details_show_the_charge():
    payments = Pact("gateway", "payments")
    (
        payments.upon_receiving("a request for a booking's charge")
        .given("the booking is charged", booking_id=BOOKING_ID, amount_cents=AMOUNT_CENTS)
        .with_request("GET", f"/charges/{BOOKING_ID}")
        .will_respond_with(200)
        .with_body(
            {
                "booking_id": uuid(BOOKING_ID),
                "amount_cents": match.int(AMOUNT_CENTS),
                "status": match.regex("captured", regex=r"^(captured|refunded)$"),
            },
            content_type=JSON,
        )
    )
    response = await _details(payments)
    assert response.status_code == 200
    assert response.json()["payment"]["status"] == "captured"
    assert response.json()["user"]["name"] == "Ann Smith"


async def test_booking_details_without_a_charge_show_none():
    payments = Pact("gateway", "payments")
    (
        payments.upon_receiving("a request for the charge of a booking never charged")
        .given("no charge for the booking", booking_id=BOOKING_ID)
        .with_request("GET", f"/charges/{BOOKING_ID}")
        .will_respond_with(404)
        .with_body(problem(404, "Not Found"), content_type=PROBLEM_JSON)
    )
    response = await _details(payments)
    assert response.status_code == 200
    assert response.json()["payment"] is None
