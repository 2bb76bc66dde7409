"""Public request and response bodies of the gateway (they are its OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, model_validator

EMAIL_PATTERN = r"^[^@\s]+@[^@\s]+\.[^@\s.]+$"
MAX_AMOUNT_CENTS = 100_000_000


class Problem(BaseModel):
    """RFC 9457 problem details: the body of every error answer."""

    type: str = "about:blank"
    title: str
    status: int
    detail: str | None = None


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserIn(BaseModel):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["ann@example.com"])
    name: str = Field(min_length=1, max_length=200, examples=["Ann Smith"])


class User(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime


class FacilityIn(BaseModel):
    name: str = Field(min_length=1, max_length=200, examples=["Chapel of Rest"])
    capacity: int = Field(ge=1, le=100_000, examples=[80])


class Facility(BaseModel):
    id: uuid.UUID
    name: str
    capacity: int


class FacilityList(BaseModel):
    items: list[Facility]
    stale: bool = Field(
        description="true when facilities is unreachable and this is the last good list"
    )
    fetched_at: datetime = Field(description="when the list was read from facilities")


class ReservedSlot(BaseModel):
    booking_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime


class Availability(BaseModel):
    facility_id: uuid.UUID
    date: date
    reserved: list[ReservedSlot]


class BookingIn(BaseModel):
    user_id: uuid.UUID
    facility_id: uuid.UUID
    starts_at: AwareDatetime = Field(examples=["2030-05-01T10:00:00+00:00"])
    ends_at: AwareDatetime = Field(examples=["2030-05-01T12:00:00+00:00"])
    amount_cents: int = Field(gt=0, le=MAX_AMOUNT_CENTS, examples=[25000])
    payment_method: str = Field(
        min_length=4,
        max_length=64,
        pattern=r"^pm_[A-Za-z0-9_]+$",
        description="pm_card_visa succeeds, pm_card_chargeDeclined is declined",
        examples=["pm_card_visa"],
    )

    @model_validator(mode="after")
    def _ends_after_start(self) -> BookingIn:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class Booking(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    status: Literal["pending", "confirmed", "rejected", "cancelled"]
    reason: str | None = None


class Payment(BaseModel):
    model_config = ConfigDict(extra="allow")

    booking_id: uuid.UUID
    amount_cents: int
    status: str


class BookingDetails(BaseModel):
    booking: Booking
    facility: Facility
    user: User
    payment: Payment | None = Field(description="null when no charge exists for the booking")
