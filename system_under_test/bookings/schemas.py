"""Request and response bodies of the bookings API (they are its OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field

from .repository import StoredBooking

BookingStatusName = Literal["pending", "confirmed", "rejected", "cancelled"]


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
