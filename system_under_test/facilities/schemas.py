"""Request and response bodies of the facilities API."""

from __future__ import annotations

from datetime import date, datetime
from typing import Literal, Self
from uuid import UUID

from pydantic import BaseModel, Field, model_validator

from system_under_test.common.fields import Integer, Name, Timestamp


class FacilityIn(BaseModel):
    name: Name
    capacity: Integer = Field(gt=0, le=100_000, description="people it seats")


class FacilityOut(BaseModel):
    id: UUID
    name: str
    capacity: int


class ReservationIn(BaseModel):
    facility_id: UUID
    starts_at: Timestamp
    ends_at: Timestamp = Field(description="after `starts_at`; years 1900 to 8999")

    @model_validator(mode="after")
    def _ends_after_start(self) -> Self:
        if self.ends_at <= self.starts_at:
            raise ValueError("ends_at must be after starts_at")
        return self


class ReservationOut(BaseModel):
    booking_id: UUID
    facility_id: UUID
    starts_at: datetime
    ends_at: datetime
    status: Literal["held", "confirmed", "released"]


class ReservedSlot(BaseModel):
    booking_id: UUID
    starts_at: datetime
    ends_at: datetime


class AvailabilityOut(BaseModel):
    facility_id: UUID
    date: date
    reserved: list[ReservedSlot] = Field(description="held and confirmed slots that day (UTC)")
