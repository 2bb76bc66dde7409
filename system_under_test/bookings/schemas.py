"""Request and response bodies of the bookings API (they are its OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, model_validator

from system_under_test.common.fields import Integer, PaymentMethod, Timestamp

from .repository import StoredBooking

MAX_AMOUNT_CENTS = 100_000_000

BookingStatusName = Literal["pending", "confirmed", "rejected", "cancelled"]


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


class BookingOut(BaseModel):
    id: uuid.UUID
    user_id: uuid.UUID
    facility_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    amount_cents: int
    payment_method: str
    status: BookingStatusName
    reason: str | None = Field(
        description="why the booking is not confirmed (slot_unavailable, payment_declined, ...)"
    )
    settled: bool = Field(
        description="false while the saga still has work to do (pending, or being cancelled)"
    )
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, stored: StoredBooking) -> BookingOut:
        b = stored.booking
        return cls(
            id=b.id,
            user_id=b.user_id,
            facility_id=b.facility_id,
            starts_at=b.starts_at,
            ends_at=b.ends_at,
            amount_cents=b.amount_cents,
            payment_method=b.payment_method,
            status=b.status.value,
            reason=b.reason,
            settled=stored.settled,
            created_at=stored.created_at,
            updated_at=stored.updated_at,
        )
