"""What the suite answers, parsed into small frozen models, and the raw `Answer` of one call.

Unknown fields are ignored, so the client keeps working when a service adds one; a body that
lacks a field the model needs is an unexpected answer (the call reports it, see `Answer`).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any, Generic, Literal, TypeVar

from pydantic import BaseModel, ConfigDict, model_validator

T = TypeVar("T")

BookingStatus = Literal["pending", "confirmed", "rejected", "cancelled"]
GOOD_CARD = "pm_card_visa"
DECLINED_CARD = "pm_card_chargeDeclined"


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="ignore")


class Token(_Model):
    access_token: str
    token_type: str = "bearer"
    expires_in: int | None = None


class User(_Model):
    id: str
    email: str
    name: str
    created_at: datetime | None = None


class Facility(_Model):
    id: str
    name: str
    capacity: int


class FacilityList(_Model):
    """The facilities; `stale` when the gateway serves its last good copy."""

    items: tuple[Facility, ...]
    stale: bool = False
    fetched_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _from_list(cls, data: Any) -> Any:
        # The facilities service answers a bare list; the gateway wraps it.
        return {"items": data} if isinstance(data, list) else data

    @property
    def ids(self) -> set[str]:
        return {f.id for f in self.items}


class ReservedSlot(_Model):
    booking_id: str
    starts_at: datetime
    ends_at: datetime


class Availability(_Model):
    facility_id: str
    date: date
    reserved: tuple[ReservedSlot, ...]

    @property
    def booking_ids(self) -> set[str]:
        return {r.booking_id for r in self.reserved}


class Booking(_Model):
    id: str
    status: BookingStatus
    reason: str | None = None
    # False while the saga still has work to do (pending, or a cancellation under way).
    settled: bool
    user_id: str | None = None
    facility_id: str | None = None
    starts_at: datetime | None = None
    ends_at: datetime | None = None
    amount_cents: int | None = None
    payment_method: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @model_validator(mode="before")
    @classmethod
    def _settled_when_terminal(cls, data: Any) -> Any:
        if isinstance(data, Mapping) and "settled" not in data:
            return {**data, "settled": data.get("status") != "pending"}
        return data

    @property
    def terminal(self) -> bool:
        return self.status != "pending"


class Payment(_Model):
    booking_id: str
    amount_cents: int | None = None
    status: str


class BookingDetails(_Model):
    """The gateway's composition: the booking with its facility, user and payment."""

    booking: Booking
    facility: Facility | None = None
    user: User | None = None
    payment: Payment | None = None


class Reservation(_Model):
    booking_id: str
    facility_id: str
    starts_at: datetime
    ends_at: datetime
    status: Literal["held", "confirmed", "released"]


class Charge(_Model):
    booking_id: str
    status: str
    amount_cents: int | None = None


class Notification(_Model):
    id: str
    event_id: str
    event_type: str
    user_id: str
    booking_id: str | None = None
    channel: str
    recipient: str
    subject: str
    body: str
    sent_at: datetime


@dataclass(frozen=True)
class Answer(Generic[T]):
    """One call as the caller saw it: status (None when no answer came), body, seconds taken,
    why it failed (`error`), and the parsed `value` when the status was one the operation
    expects (`ok`)."""

    status: int | None
    body: Any
    seconds: float
    error: str | None = None
    headers: Mapping[str, str] = field(default_factory=dict)
    value: T | None = None
    ok: bool = False

    @property
    def booking_id(self) -> str | None:
        found = self.body.get("id") if isinstance(self.body, dict) else None
        return str(found) if found is not None else None

    @property
    def clean(self) -> bool:
        """A deliberate answer: success, or a 4xx/503 problem; never a 500 or no answer."""
        return self.status is not None and (self.status < 500 or self.status == 503)

    @property
    def problem(self) -> dict[str, Any] | None:
        """The RFC 9457 problem body of a refusal, if it has one."""
        body = self.body
        if isinstance(body, dict) and "title" in body and "status" in body:
            return body
        return None

    @property
    def retry_after(self) -> float | None:
        value = self.headers.get("retry-after")
        try:
            return float(value) if value is not None else None
        except ValueError:
            return None

    def describe(self) -> str:
        if self.status is None:
            return f"no answer after {self.seconds * 1000:.0f} ms ({self.error})"
        return f"{self.status} after {self.seconds * 1000:.0f} ms"
