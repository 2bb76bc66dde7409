"""Charges and refunds: the rules, free of any framework or I/O.

Payment methods follow the test-card convention of common payment APIs: `pm_card_visa`
(and the other plain brands) succeed, `pm_card_chargeDeclined…` are declined, always.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from enum import StrEnum
from uuid import UUID

APPROVED_METHODS = frozenset({"pm_card_visa", "pm_card_mastercard", "pm_card_amex"})
DECLINED_METHODS = {
    "pm_card_chargeDeclined": "card_declined",
    "pm_card_chargeDeclinedInsufficientFunds": "insufficient_funds",
    "pm_card_chargeDeclinedExpiredCard": "expired_card",
}


class PaymentsError(Exception):
    """Base of the rule violations a caller can act on."""


class UnknownPaymentMethod(PaymentsError):
    pass


class ChargeNotFound(PaymentsError):
    pass


class PaymentDeclined(PaymentsError):
    def __init__(self, booking_id: UUID, decline_code: str) -> None:
        super().__init__(f"charge for booking {booking_id} declined: {decline_code}")
        self.decline_code = decline_code


class ChargeVoided(PaymentsError):
    """A refund for the booking came before any charge: a late charge must not capture."""


class ChargeRefunded(PaymentsError):
    pass


class ChargeMismatch(PaymentsError):
    """The booking was already charged a different amount."""


class Status(StrEnum):
    CAPTURED = "captured"
    DECLINED = "declined"
    REFUNDED = "refunded"
    VOIDED = "voided"


@dataclass(frozen=True)
class Charge:
    """The payment state of one booking. A void that came first has no amount or method."""

    id: UUID
    booking_id: UUID
    amount_cents: int | None
    payment_method: str | None
    status: Status
    decline_code: str | None = None


@dataclass(frozen=True)
class Authorization:
    approved: bool
    decline_code: str | None = None


def authorize(payment_method: str) -> Authorization:
    """Deterministic outcome of a payment method."""
    if payment_method in APPROVED_METHODS:
        return Authorization(approved=True)
    if payment_method in DECLINED_METHODS:
        return Authorization(approved=False, decline_code=DECLINED_METHODS[payment_method])
    raise UnknownPaymentMethod(f"unknown payment method {payment_method!r}")


def replay_or_refuse(existing: Charge, amount_cents: int) -> Charge | None:
    """What a repeated charge of a booking gives: the earlier capture, a refusal, or None
    when a new attempt may be made (the earlier one was declined)."""
    if existing.status is Status.VOIDED:
        raise ChargeVoided(f"booking {existing.booking_id} was refunded before being charged")
    if existing.status is Status.REFUNDED:
        raise ChargeRefunded(f"the charge for booking {existing.booking_id} was refunded")
    if existing.status is Status.CAPTURED:
        if existing.amount_cents != amount_cents:
            raise ChargeMismatch(
                f"booking {existing.booking_id} was charged {existing.amount_cents} cents, "
                f"not {amount_cents}"
            )
        return existing
    return None


def attempt(charge_id: UUID, booking_id: UUID, amount_cents: int, payment_method: str) -> Charge:
    """A new charge attempt: captured or declined."""
    decision = authorize(payment_method)
    return Charge(
        id=charge_id,
        booking_id=booking_id,
        amount_cents=amount_cents,
        payment_method=payment_method,
        status=Status.CAPTURED if decision.approved else Status.DECLINED,
        decline_code=decision.decline_code,
    )


def refund(existing: Charge | None, void_id: UUID, booking_id: UUID) -> Charge:
    """Refund what was captured; with nothing captured, void the booking so a charge
    arriving later is refused. Idempotent."""
    if existing is None:
        return Charge(void_id, booking_id, None, None, Status.VOIDED)
    if existing.status is Status.CAPTURED:
        return replace(existing, status=Status.REFUNDED)
    if existing.status is Status.DECLINED:
        return replace(existing, status=Status.VOIDED)
    return existing
