"""Request and response bodies of the payments API."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field

from .domain import APPROVED_METHODS, DECLINED_METHODS

# The test cards payments knows; any other method is refused (422), so the schema says so.
KNOWN_METHODS = sorted(APPROVED_METHODS | set(DECLINED_METHODS))


class ChargeIn(BaseModel):
    amount_cents: int = Field(gt=0, le=100_000_000)
    payment_method: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^pm_[A-Za-z0-9_]+$",
        description="`pm_card_visa` succeeds, `pm_card_chargeDeclined` is declined",
        examples=["pm_card_visa"],
        json_schema_extra={"enum": KNOWN_METHODS},
    )


class ChargeOut(BaseModel):
    id: UUID
    booking_id: UUID
    amount_cents: int | None = Field(description="null when a refund voided the booking first")
    payment_method: str | None
    status: Literal["captured", "declined", "refunded", "voided"]
    decline_code: str | None = None


class RefundOut(BaseModel):
    booking_id: UUID
    status: Literal["refunded", "voided"]
