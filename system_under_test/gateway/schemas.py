"""Public request and response bodies of the gateway (they are its OpenAPI document)."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from system_under_test.common.fields import Integer, Name
from system_under_test.common.text import EMAIL_PATTERN


class TokenForm(BaseModel):
    """The OAuth 2.0 password grant (RFC 6749, 4.3.2) as OAuth clients and Swagger UI send it;
    other fields they add (`scope`, `client_id`) are ignored."""

    grant_type: Literal["password"] = "password"
    username: str = Field(min_length=1, max_length=200, examples=["demo"])
    password: str = Field(
        min_length=1, max_length=200, examples=["demo"], json_schema_extra={"format": "password"}
    )


class Token(BaseModel):
    access_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int


class UserIn(BaseModel):
    email: str = Field(max_length=254, pattern=EMAIL_PATTERN, examples=["ann@example.com"])
    name: Name = Field(examples=["Ann Smith"])


class User(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime


class FacilityIn(BaseModel):
    name: Name = Field(examples=["Chapel of Rest"])
    capacity: Integer = Field(ge=1, le=100_000, examples=[80])


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


class Booking(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    status: Literal["pending", "confirmed", "rejected", "cancelled"]
    reason: str | None = None


class Payment(BaseModel):
    model_config = ConfigDict(extra="allow")

    booking_id: uuid.UUID
    amount_cents: int | None = Field(description="null when a refund voided the booking first")
    status: Literal["captured", "declined", "refunded", "voided"]


class BookingDetails(BaseModel):
    booking: Booking
    facility: Facility | None = Field(description="null when the facility no longer exists")
    user: User | None = Field(description="null when the user no longer exists")
    payment: Payment | None = Field(description="null when no charge exists for the booking")


class Notification(BaseModel):
    model_config = ConfigDict(extra="allow")

    id: uuid.UUID
    event_type: Literal[
        "user.created", "booking.confirmed", "booking.cancelled", "booking.rejected"
    ]
    user_id: uuid.UUID
    booking_id: uuid.UUID | None = Field(description="null for a message about the account")
    channel: str
    recipient: str
    subject: str
    body: str
    sent_at: datetime
