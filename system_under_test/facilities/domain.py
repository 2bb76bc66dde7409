"""Facilities and reservations: the rules, free of any framework or I/O."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from uuid import UUID


class FacilitiesError(Exception):
    """Base of the rule violations a caller can act on."""


class FacilityNotFound(FacilitiesError):
    pass


class ReservationNotFound(FacilitiesError):
    pass


class SlotUnavailable(FacilitiesError):
    """Another held or confirmed reservation overlaps the requested slot."""


class ReservationReleased(FacilitiesError):
    """The booking's reservation was released; it cannot be held or confirmed again."""


class ReservationMismatch(FacilitiesError):
    """The booking already holds a reservation for a different facility or slot."""


class InvalidSlot(FacilitiesError):
    pass


class Status(StrEnum):
    HELD = "held"
    CONFIRMED = "confirmed"
    RELEASED = "released"


@dataclass(frozen=True)
class Slot:
    starts_at: datetime
    ends_at: datetime

    def __post_init__(self) -> None:
        if self.starts_at.tzinfo is None or self.ends_at.tzinfo is None:
            raise InvalidSlot("times must carry a timezone offset")
        if self.ends_at <= self.starts_at:
            raise InvalidSlot("ends_at must be after starts_at")

    def overlaps(self, other: Slot) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at


@dataclass(frozen=True)
class Facility:
    id: UUID
    name: str
    capacity: int


@dataclass(frozen=True)
class Reservation:
    """A booking's hold on a slot. A release that arrives before any hold leaves a
    tombstone (no facility, no slot) so that a late hold for that booking is refused
    instead of occupying the slot forever."""

    booking_id: UUID
    facility_id: UUID | None
    slot: Slot | None
    status: Status = Status.HELD

    @classmethod
    def tombstone(cls, booking_id: UUID) -> Reservation:
        return cls(booking_id, None, None, Status.RELEASED)

    @property
    def is_tombstone(self) -> bool:
        return self.slot is None

    @property
    def occupies_slot(self) -> bool:
        return self.status is not Status.RELEASED

    def matches(self, facility_id: UUID, slot: Slot) -> bool:
        return self.facility_id == facility_id and self.slot == slot

    def rehold(self, facility_id: UUID, slot: Slot) -> Reservation:
        """A repeated reserve for the same booking: the same reservation, or a refusal."""
        if self.status is Status.RELEASED:
            raise ReservationReleased(f"reservation for booking {self.booking_id} was released")
        if not self.matches(facility_id, slot):
            raise ReservationMismatch(
                f"booking {self.booking_id} already holds a different reservation"
            )
        return self

    def confirm(self) -> Reservation:
        if self.status is Status.RELEASED:
            raise ReservationReleased(f"reservation for booking {self.booking_id} was released")
        return replace(self, status=Status.CONFIRMED)

    def release(self) -> Reservation:
        return replace(self, status=Status.RELEASED)


def day_window(day: date) -> Slot:
    """The UTC day `day` as a slot, for availability queries."""
    start = datetime.combine(day, time.min, tzinfo=UTC)
    return Slot(start, start + timedelta(days=1))
