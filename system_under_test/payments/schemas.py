"""Request and response bodies of the payments API."""

from __future__ import annotations

from typing import Annotated, Literal
from uuid import UUID

from pydantic import BaseModel, Field

from system_under_test.common.fields import Integer, PaymentMethod

from .domain import APPROVED_METHODS, DECLINED_METHODS

# The test cards payments knows; any other method is refused (422), so the schema says so.
KNOWN_METHODS = sorted(APPROVED_METHODS | set(DECLINED_METHODS))

KnownPaymentMethod = Annotated[PaymentMethod, Field(json_schema_extra={"enum": KNOWN_METHODS})]
"""The shared payment method rule, narrowed to the methods payments knows (the domain refuses
any other with 422 `Unknown payment method`)."""


class ChargeIn(BaseModel):
    amount_cents: Integer = Field(gt=0, le=100_000_000)
    payment_method: KnownPaymentMethod


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
