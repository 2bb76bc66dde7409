"""gateway -> notifications: a family reads the messages sent about a booking, or to them."""

from __future__ import annotations

from typing import Any

import pytest
from pact import Pact, match

from contracts.consumer.expectations import BOOKING_ID, EMAIL, USER_ID
from contracts.consumer.gateway import gateway_client
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON, timestamp, uuid
from system_under_test.gateway.api import DEFAULT_NOTIFICATIONS

pytestmark = pytest.mark.contract

NOTIFICATION_ID = "2b4d6f8a-0c2e-4a6c-8e0a-4c6e8a0c2e4a"
SENT_AT = "2030-05-01T10:00:01.250000+00:00"
EVENT_TYPES = r"^(user\.created|booking\.(confirmed|cancelled|rejected))$"


def notification(event_type: str, booking_id: str | None) -> dict[str, Any]:
    """What the gateway relays of a message (notifications sends more; the gateway reads these)."""
    return {
        "id": uuid(NOTIFICATION_ID),
        "event_type": match.regex(event_type, regex=EVENT_TYPES),
        "user_id": uuid(USER_ID),
        "booking_id": uuid(booking_id) if booking_id else None,
        "channel": match.str("email"),
        "recipient": match.str(EMAIL),
        "subject": match.str("Your booking is confirmed"),
        "body": match.str("Your booking is confirmed."),
        "sent_at": timestamp(SENT_AT),
    }


def _pact() -> Pact:
    return Pact("gateway", "notifications")


async def test_the_messages_about_a_booking_are_relayed():
    pact = _pact()
    (
        pact.upon_receiving("a request for the notifications of a booking")
        .given("a booking's confirmation was sent", booking_id=BOOKING_ID, user_id=USER_ID)
        .with_request("GET", "/notifications")
        .with_query_parameter("booking_id", BOOKING_ID)
        .with_query_parameter("limit", str(DEFAULT_NOTIFICATIONS))
        .will_respond_with(200)
        .with_body(
            match.each_like(notification("booking.confirmed", BOOKING_ID)), content_type=JSON
        )
    )
    with mock_provider(pact) as url:
        async with gateway_client(notifications=url) as gw:
            response = await gw.get("/api/notifications", params={"booking_id": BOOKING_ID})
    assert response.status_code == 200
    (message,) = response.json()
    assert (message["booking_id"], message["event_type"]) == (BOOKING_ID, "booking.confirmed")
    assert message["subject"] and message["sent_at"]


async def test_the_messages_to_a_user_are_relayed():
    pact = _pact()
    (
        pact.upon_receiving("a request for the notifications of a user")
        .given("a user was welcomed", user_id=USER_ID, email=EMAIL, name="Ann Smith")
        .with_request("GET", "/notifications")
        .with_query_parameter("user_id", USER_ID)
        .with_query_parameter("limit", str(DEFAULT_NOTIFICATIONS))
        .will_respond_with(200)
        .with_body(match.each_like(notification("user.created", None)), content_type=JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(notifications=url) as gw:
            response = await gw.get("/api/notifications", params={"user_id": USER_ID})
    assert response.status_code == 200
    (welcome,) = response.json()
    assert (welcome["user_id"], welcome["booking_id"]) == (USER_ID, None)


async def test_a_booking_nothing_was_sent_about_has_an_empty_list():
    pact = _pact()
    (
        pact.upon_receiving("a request for the notifications of a booking none were sent for")
        .given("no notification was sent for the booking", booking_id=BOOKING_ID)
        .with_request("GET", "/notifications")
        .with_query_parameter("booking_id", BOOKING_ID)
        .with_query_parameter("limit", str(DEFAULT_NOTIFICATIONS))
        .will_respond_with(200)
        .with_body([], content_type=JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(notifications=url) as gw:
            response = await gw.get("/api/notifications", params={"booking_id": BOOKING_ID})
    assert response.status_code == 200
    assert response.json() == []


async def test_a_notifications_outage_is_a_503_the_client_may_retry():
    pact = _pact()
    (
        pact.upon_receiving("a request for notifications while the notifications database is away")
        .given("the database is unavailable")
        .with_request("GET", "/notifications")
        .with_query_parameter("user_id", USER_ID)
        .with_query_parameter("limit", str(DEFAULT_NOTIFICATIONS))
        .will_respond_with(503)
    )
    with mock_provider(pact) as url:
        async with gateway_client(notifications=url) as gw:
            response = await gw.get("/api/notifications", params={"user_id": USER_ID})
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert "Retry-After" in response.headers
