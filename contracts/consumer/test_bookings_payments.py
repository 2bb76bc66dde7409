"""bookings -> payments: the saga's charge (the pivot) and its compensating refund.

The saga reads only the status code: 201/200 charged, 402 declined, 409 the booking was
voided by an earlier refund; a refund always ends in 200.
"""

from __future__ import annotations

import pytest
from pact import Pact

from contracts.consumer.bookings import payments_client, the_booking
from contracts.consumer.expectations import AMOUNT_CENTS, BOOKING_ID, CARD_DECLINED, CARD_OK
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON
from system_under_test.bookings.domain import Outcome

pytestmark = pytest.mark.contract

CHARGED = ("the booking is charged", {"booking_id": BOOKING_ID, "amount_cents": AMOUNT_CENTS})
NOT_CHARGED = ("no charge for the booking", {"booking_id": BOOKING_ID})
VOIDED = ("the booking's charge was voided", {"booking_id": BOOKING_ID})


def _pact() -> Pact:
    return Pact("bookings", "payments")


@pytest.mark.parametrize(
    ("description", "given", "card", "status", "expected"),
    [
        ("a request to charge a booking", NOT_CHARGED, CARD_OK, 201, Outcome.OK),
        ("a request to charge a booking again", CHARGED, CARD_OK, 200, Outcome.OK),
        (
            "a request to charge a booking with a declined card",
            NOT_CHARGED,
            CARD_DECLINED,
            402,
            Outcome.DECLINED,
        ),
        (
            "a request to charge a booking whose charge was voided",
            VOIDED,
            CARD_OK,
            409,
            Outcome.CONFLICT,
        ),
    ],
)
async def test_charge_outcome_follows_the_status(description, given, card, status, expected):
    pact = _pact()
    (
        pact.upon_receiving(description)
        .given(given[0], **given[1])
        .with_request("PUT", f"/charges/{BOOKING_ID}")
        .with_body({"amount_cents": AMOUNT_CENTS, "payment_method": card}, content_type=JSON)
        .will_respond_with(status)
    )
    with mock_provider(pact) as url:
        outcome = await payments_client(url).charge(the_booking(payment_method=card))
    assert outcome is expected


@pytest.mark.parametrize(
    ("description", "given"),
    [
        ("a request to refund a charged booking", CHARGED),
        ("a request to refund a booking never charged", NOT_CHARGED),
    ],
)
async def test_refund_always_succeeds(description, given):
    pact = _pact()
    (
        pact.upon_receiving(description)
        .given(given[0], **given[1])
        .with_request("POST", f"/charges/{BOOKING_ID}/refund")
        .will_respond_with(200)
    )
    with mock_provider(pact) as url:
        outcome = await payments_client(url).refund(the_booking())
    assert outcome is Outcome.OK


async def test_a_payments_outage_leaves_the_charge_undecided():
    pact = _pact()
    (
        pact.upon_receiving("a request to charge a booking while the payments database is away")
        .given("the database is unavailable")
        .with_request("PUT", f"/charges/{BOOKING_ID}")
        .with_body({"amount_cents": AMOUNT_CENTS, "payment_method": CARD_OK}, content_type=JSON)
        .will_respond_with(503)
    )
    with mock_provider(pact) as url:
        outcome = await payments_client(url).charge(the_booking())
    # Ambiguous: the saga refunds (voiding a charge that never happened) before releasing.
    assert outcome is Outcome.UNAVAILABLE
