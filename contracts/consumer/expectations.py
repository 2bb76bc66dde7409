"""The gateway's and bookings' expectations of their providers, as Pact interactions.

Defined once because some tests need several providers at a time (the gateway checks the
user and the facility before it places a booking); an interaction added by two tests is
identical, so the pact files merge it into one.
"""

from __future__ import annotations

from typing import Any

from pact import Pact, match

from contracts.consumer.shapes import JSON, PROBLEM_JSON, problem, timestamp, uuid

USER_ID = "6f1c2b8e-3d4a-4e5f-9a7b-1c2d3e4f5a60"
MISSING_USER_ID = "0b7e4c1a-9d2f-4a3b-8c5d-6e7f8a9b0c1d"
EMAIL = "ann.smith@example.com"
FACILITY_ID = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b"
MISSING_FACILITY_ID = "1d2c3b4a-5f6e-4d7c-8b9a-0f1e2d3c4b5a"
BOOKING_ID = "3a9d5c7e-1b2f-4c6d-8e0a-2b4c6d8e0f1a"
OTHER_BOOKING_ID = "5c7e9a1b-3d5f-4a7c-9e1b-3d5f7a9c1e3b"
MISSING_BOOKING_ID = "7e9a1c3d-5f7b-4c9e-8a3c-5e7a9c1e3f5d"
STARTS_AT = "2030-05-01T10:00:00+00:00"
ENDS_AT = "2030-05-01T12:00:00+00:00"
DAY = "2030-05-01"
AMOUNT_CENTS = 25000
CARD_OK = "pm_card_visa"
CARD_DECLINED = "pm_card_chargeDeclined"

FACILITY_STATE = {"id": FACILITY_ID, "name": "Chapel of Rest", "capacity": 80}
SLOT = {"facility_id": FACILITY_ID, "starts_at": STARTS_AT, "ends_at": ENDS_AT}
BOOKING_STATE = {"id": BOOKING_ID, "user_id": USER_ID, **SLOT}

USER = {
    "id": uuid(USER_ID),
    "email": match.str(EMAIL),
    "name": match.str("Ann Smith"),
    "created_at": timestamp("2030-04-01T08:00:00+00:00"),
}
FACILITY = {
    "id": uuid(FACILITY_ID),
    "name": match.str("Chapel of Rest"),
    "capacity": match.int(80),
}
BOOKING_STATUS = r"^(pending|confirmed|rejected|cancelled)$"


def booking(status: str) -> dict[str, Any]:
    """What the gateway relays and reads of a booking (it needs the ids for /details)."""
    return {
        "id": uuid(BOOKING_ID),
        "user_id": uuid(USER_ID),
        "facility_id": uuid(FACILITY_ID),
        "status": match.regex(status, regex=BOOKING_STATUS),
    }


def booking_request(**changes: Any) -> dict[str, Any]:
    """The body a client sends to `POST /api/bookings` (and the gateway forwards)."""
    return {
        "user_id": USER_ID,
        "facility_id": FACILITY_ID,
        "starts_at": STARTS_AT,
        "ends_at": ENDS_AT,
        "amount_cents": AMOUNT_CENTS,
        "payment_method": CARD_OK,
        **changes,
    }


def forwarded_booking() -> dict[str, Any]:
    """The booking body as the gateway forwards it (its own timestamp spelling)."""
    body: dict[str, Any] = booking_request()
    body.update(
        user_id=uuid(USER_ID),
        facility_id=uuid(FACILITY_ID),
        starts_at=timestamp(STARTS_AT),
        ends_at=timestamp(ENDS_AT),
    )
    return body


# --- gateway -> users --------------------------------------------------------------------


def user_exists(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a user")
        .given("a user exists", id=USER_ID, email=EMAIL, name="Ann Smith")
        .with_request("GET", f"/users/{USER_ID}")
        .will_respond_with(200)
        .with_body(USER, content_type=JSON)
    )


def user_missing(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a user that does not exist")
        .given("no user has the id", id=MISSING_USER_ID)
        .with_request("GET", f"/users/{MISSING_USER_ID}")
        .will_respond_with(404)
        .with_body(problem(404, "Not Found"), content_type=PROBLEM_JSON)
    )


# --- gateway -> facilities ---------------------------------------------------------------


def facility_exists(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a facility")
        .given("a facility exists", **FACILITY_STATE)
        .with_request("GET", f"/facilities/{FACILITY_ID}")
        .will_respond_with(200)
        .with_body(FACILITY, content_type=JSON)
    )


def facility_missing(
    pact: Pact, path: str, description: str, query: dict[str, str] | None = None
) -> None:
    interaction = (
        pact.upon_receiving(description)
        .given("no facility has the id", id=MISSING_FACILITY_ID)
        .with_request("GET", path.format(id=MISSING_FACILITY_ID))
    )
    for name, value in (query or {}).items():
        interaction.with_query_parameter(name, value)
    (
        interaction.will_respond_with(404).with_body(
            problem(404, "Not Found"), content_type=PROBLEM_JSON
        )
    )


# --- gateway -> bookings -----------------------------------------------------------------


def booking_exists(pact: Pact) -> None:
    (
        pact.upon_receiving("a request for a booking")
        .given("a confirmed booking exists", **BOOKING_STATE)
        .with_request("GET", f"/bookings/{BOOKING_ID}")
        .will_respond_with(200)
        .with_body(booking("confirmed"), content_type=JSON)
    )


def booking_missing(pact: Pact, method: str, path: str, description: str) -> None:
    (
        pact.upon_receiving(description)
        .given("no booking has the id", id=MISSING_BOOKING_ID)
        .with_request(method, path.format(id=MISSING_BOOKING_ID))
        .will_respond_with(404)
        .with_body(problem(404, "Not Found"), content_type=PROBLEM_JSON)
    )
