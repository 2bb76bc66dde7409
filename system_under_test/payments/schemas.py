"""Request and response bodies of the payments API."""

from __future__ import annotations

from typing import Literal
from uuid import UUID

from pydantic import BaseModel, Field


class ChargeIn(BaseModel):
    amount_cents: int = Field(gt=0, le=100_000_000)
    payment_method: str = Field(
        min_length=1,
        max_length=100,
        pattern=r"^pm_[A-Za-z0-9_]+$",
        description="`pm_card_visa` succeeds, `pm_card_chargeDeclined` is declined",
        examples=["pm_card_visa"],
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
