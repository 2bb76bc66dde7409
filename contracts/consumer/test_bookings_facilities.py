"""bookings -> facilities: the saga's reserve, confirm and release steps.

The saga reads only the status code (201/200 done, 409 taken or released, 404 unknown
facility), so that is all these interactions promise.
"""

from __future__ import annotations

from uuid import UUID as uuid_of

import pytest
from pact import Pact

from contracts.consumer.bookings import facilities_client, the_booking
from contracts.consumer.expectations import (
    BOOKING_ID,
    ENDS_AT,
    FACILITY_ID,
    FACILITY_STATE,
    MISSING_FACILITY_ID,
    OTHER_BOOKING_ID,
    SLOT,
    STARTS_AT,
)
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON, timestamp, uuid
from system_under_test.bookings.domain import Outcome

pytestmark = pytest.mark.contract

NO_RESERVATION = ("no reservation for the booking", {"booking_id": BOOKING_ID})


def _pact() -> Pact:
    return Pact("bookings", "facilities")


def _hold(pact: Pact, description: str, facility_id: str = FACILITY_ID):
    return (
        pact.upon_receiving(description)
        .with_request("PUT", f"/reservations/{BOOKING_ID}")
        .with_body(
            {
                "facility_id": uuid(facility_id),
                "starts_at": timestamp(STARTS_AT),
                "ends_at": timestamp(ENDS_AT),
            },
            content_type=JSON,
        )
    )


async def test_holding_a_free_slot_succeeds():
    pact = _pact()
    (
        _hold(pact, "a request to hold a free slot")
        .given("a facility exists", **FACILITY_STATE)
        .given(NO_RESERVATION[0], **NO_RESERVATION[1])
        .will_respond_with(201)
    )
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).reserve(the_booking())
    assert outcome is Outcome.OK


async def test_holding_the_same_slot_again_is_idempotent():
    pact = _pact()
    (
        _hold(pact, "a request to hold a slot the booking already holds")
        .given("a reservation is held", booking_id=BOOKING_ID, **SLOT)
        .will_respond_with(200)
    )
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).reserve(the_booking())
    assert outcome is Outcome.OK


async def test_a_slot_held_by_another_booking_is_a_conflict():
    pact = _pact()
    (
        _hold(pact, "a request to hold a slot another booking holds")
        .given("a reservation is held", booking_id=OTHER_BOOKING_ID, **SLOT)
        .will_respond_with(409)
    )
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).reserve(the_booking())
    assert outcome is Outcome.CONFLICT


async def test_a_slot_of_an_unknown_facility_is_not_found():
    pact = _pact()
    (
        _hold(pact, "a request to hold a slot of an unknown facility", MISSING_FACILITY_ID)
        .given("no facility has the id", id=MISSING_FACILITY_ID)
        .given(NO_RESERVATION[0], **NO_RESERVATION[1])
        .will_respond_with(404)
    )
    booking = the_booking(facility_id=uuid_of(MISSING_FACILITY_ID))
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).reserve(booking)
    assert outcome is Outcome.NOT_FOUND


async def test_confirming_a_held_reservation_succeeds():
    pact = _pact()
    (
        pact.upon_receiving("a request to confirm a held reservation")
        .given("a reservation is held", booking_id=BOOKING_ID, **SLOT)
        .with_request("POST", f"/reservations/{BOOKING_ID}/confirm")
        .will_respond_with(200)
    )
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).confirm(the_booking())
    assert outcome is Outcome.OK


async def test_confirming_a_released_reservation_is_a_conflict():
    pact = _pact()
    (
        pact.upon_receiving("a request to confirm a released reservation")
        .given("a reservation was released", booking_id=BOOKING_ID, **SLOT)
        .with_request("POST", f"/reservations/{BOOKING_ID}/confirm")
        .will_respond_with(409)
    )
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).confirm(the_booking())
    assert outcome is Outcome.CONFLICT


@pytest.mark.parametrize(
    ("description", "state", "params"),
    [
        (
            "a request to release a held reservation",
            "a reservation is held",
            {"booking_id": BOOKING_ID, **SLOT},
        ),
        ("a request to release a booking never reserved", *NO_RESERVATION),
    ],
)
async def test_release_always_ends_with_the_slot_free(description, state, params):
    pact = _pact()
    (
        pact.upon_receiving(description)
        .given(state, **params)
        .with_request("POST", f"/reservations/{BOOKING_ID}/release")
        .will_respond_with(204)
    )
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).release(the_booking())
    assert outcome is Outcome.OK


async def test_a_facilities_outage_leaves_the_hold_undecided():
    pact = _pact()
    (
        _hold(pact, "a request to hold a slot while the facilities database is away")
        .given("the database is unavailable")
        .will_respond_with(503)
    )
    with mock_provider(pact) as url:
        outcome = await facilities_client(url).reserve(the_booking())
    # Ambiguous: the saga compensates (release) rather than assume nothing was held.
    assert outcome is Outcome.UNAVAILABLE
