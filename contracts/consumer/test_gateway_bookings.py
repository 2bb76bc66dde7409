"""gateway -> bookings: placing, reading and cancelling bookings through the public API."""

from __future__ import annotations

import pytest
from pact import Pact

from contracts.consumer.expectations import (
    BOOKING_ID,
    BOOKING_STATE,
    FACILITY_STATE,
    MISSING_BOOKING_ID,
    booking,
    booking_exists,
    booking_missing,
    booking_request,
    facility_exists,
    forwarded_booking,
    user_exists,
)
from contracts.consumer.gateway import gateway_client
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON, PROBLEM_JSON, problem

pytestmark = pytest.mark.contract

IDEMPOTENCY_KEY = "pact-booking-1"


def _pact() -> Pact:
    return Pact("gateway", "bookings")


async def test_place_booking_checks_user_and_facility_then_relays_the_outcome():
    users, facilities, bookings = Pact("gateway", "users"), Pact("gateway", "facilities"), _pact()
    user_exists(users)
    facility_exists(facilities)
    (
        bookings.upon_receiving("a request to place a booking")
        .given("the facility is free", **FACILITY_STATE)
        .with_request("POST", "/bookings")
        .with_header("Idempotency-Key", IDEMPOTENCY_KEY)
        .with_body(forwarded_booking(), content_type=JSON)
        .will_respond_with(201)
        .with_body(booking("confirmed"), content_type=JSON)
    )
    with (
        mock_provider(users) as users_url,
        mock_provider(facilities) as facilities_url,
        mock_provider(bookings) as bookings_url,
    ):
        async with gateway_client(
            users=users_url, facilities=facilities_url, bookings=bookings_url
        ) as gw:
            response = await gw.post(
                "/api/bookings",
                json=booking_request(),
                headers={"Idempotency-Key": IDEMPOTENCY_KEY},
            )
    assert response.status_code == 201
    assert response.json()["status"] == "confirmed"


async def test_get_booking_relays_it():
    pact = _pact()
    booking_exists(pact)
    with mock_provider(pact) as url:
        async with gateway_client(bookings=url) as gw:
            response = await gw.get(f"/api/bookings/{BOOKING_ID}")
    assert response.status_code == 200
    assert response.json()["id"] == BOOKING_ID


async def test_unknown_booking_is_not_found_for_the_client():
    pact = _pact()
    booking_missing(pact, "GET", "/bookings/{id}", "a request for a booking that does not exist")
    with mock_provider(pact) as url:
        async with gateway_client(bookings=url) as gw:
            response = await gw.get(f"/api/bookings/{MISSING_BOOKING_ID}")
    assert response.status_code == 404


async def test_cancel_relays_the_cancelled_booking():
    pact = _pact()
    (
        pact.upon_receiving("a request to cancel a confirmed booking")
        .given("a confirmed booking exists", **BOOKING_STATE)
        .with_request("POST", f"/bookings/{BOOKING_ID}/cancel")
        .will_respond_with(200)
        .with_body(booking("cancelled"), content_type=JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(bookings=url) as gw:
            response = await gw.post(f"/api/bookings/{BOOKING_ID}/cancel")
    assert response.status_code == 200
    assert response.json()["status"] == "cancelled"


async def test_cancelling_a_rejected_booking_is_a_conflict():
    pact = _pact()
    (
        pact.upon_receiving("a request to cancel a rejected booking")
        .given("a rejected booking exists", **BOOKING_STATE)
        .with_request("POST", f"/bookings/{BOOKING_ID}/cancel")
        .will_respond_with(409)
        .with_body(problem(409, "Booking cannot be cancelled"), content_type=PROBLEM_JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(bookings=url) as gw:
            response = await gw.post(f"/api/bookings/{BOOKING_ID}/cancel")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM_JSON)


async def test_cancelling_an_unknown_booking_is_not_found():
    pact = _pact()
    booking_missing(
        pact, "POST", "/bookings/{id}/cancel", "a request to cancel a booking that does not exist"
    )
    with mock_provider(pact) as url:
        async with gateway_client(bookings=url) as gw:
            response = await gw.post(f"/api/bookings/{MISSING_BOOKING_ID}/cancel")
    assert response.status_code == 404


async def test_bookings_outage_is_a_503_the_client_may_retry():
    pact = _pact()
    (
        pact.upon_receiving("a request for a booking while the bookings database is away")
        .given("the database is unavailable")
        .with_request("GET", f"/bookings/{BOOKING_ID}")
        .will_respond_with(503)
    )
    with mock_provider(pact) as url:
        async with gateway_client(bookings=url) as gw:
            response = await gw.get(f"/api/bookings/{BOOKING_ID}")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
