"""The booking request: one model for the gateway, which takes it from the public, and for
bookings, which gets it forwarded, so that the two cannot drift apart."""

from __future__ import annotations

import uuid

from pydantic import BaseModel, Field, model_validator

from .fields import Integer, PaymentMethod, Timestamp

MAX_AMOUNT_CENTS = 100_000_000


class BookingIn(BaseModel):
    user_id: uuid.UUID
    facility_id: uuid.UUID
    starts_at: Timestamp = Field(examples=["2030-05-01T10:00:00+00:00"])
    ends_at: Timestamp = Field(
        examples=["2030-05-01T12:00:00+00:00"], description="after `starts_at`; years 1900 to 8999"
    )
    amount_cents: Integer = Field(gt=0, le=MAX_AMOUNT_CENTS, examples=[25000])
    payment_method: PaymentMethod

    @model_validator(mode="after")
    def _ends_after_start(self) -> BookingIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self
