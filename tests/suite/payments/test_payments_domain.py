"""Charge and refund rules without a database."""

import uuid

import pytest

from system_under_test.payments.domain import (
    ChargeMismatch,
    ChargeRefunded,
    ChargeVoided,
    Status,
    UnknownPaymentMethod,
    attempt,
    authorize,
    refund,
    replay_or_refuse,
)

pytestmark = pytest.mark.unit


def test_test_cards_decide_deterministically():
    assert authorize("pm_card_visa").approved
    declined = authorize("pm_card_chargeDeclined")
    assert not declined.approved and declined.decline_code == "card_declined"
    with pytest.raises(UnknownPaymentMethod):
        authorize("pm_card_unheard_of")


def test_replay_returns_the_capture_or_refuses():
    booking = uuid.uuid4()
    captured = attempt(uuid.uuid4(), booking, 500, "pm_card_visa")
    assert captured.status is Status.CAPTURED
    assert replay_or_refuse(captured, 500) is captured
    with pytest.raises(ChargeMismatch):
        replay_or_refuse(captured, 501)
    with pytest.raises(ChargeRefunded):
        replay_or_refuse(refund(captured, uuid.uuid4(), booking), 500)


def test_a_declined_booking_may_be_attempted_again():
    declined = attempt(uuid.uuid4(), uuid.uuid4(), 500, "pm_card_chargeDeclined")
    assert declined.status is Status.DECLINED
    assert replay_or_refuse(declined, 500) is None


def test_refund_first_voids_and_refunds_are_idempotent():
    booking = uuid.uuid4()
    void = refund(None, uuid.uuid4(), booking)
    assert void.status is Status.VOIDED and void.amount_cents is None
    assert refund(void, uuid.uuid4(), booking) == void
    with pytest.raises(ChargeVoided):
        replay_or_refuse(void, 500)
    captured = attempt(uuid.uuid4(), booking, 500, "pm_card_visa")
    refunded = refund(captured, uuid.uuid4(), booking)
    assert (
        refunded.status is Status.REFUNDED and refund(refunded, uuid.uuid4(), booking) == refunded
    )
