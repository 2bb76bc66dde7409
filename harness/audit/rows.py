"""Rows as the audit's readers normalise them.

Plain strings: the audit does not trust the suite's own types.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    pass

# --------------------------------------------------------------------------------------------
# Rows, as the readers normalise them (plain strings: the audit does not trust the suite's types)


@dataclass(frozen=True)
class BookingRow:
    id: str
    status: str
    reason: str | None = None
    facility_id: str | None = None
    user_id: str | None = None
    settled: bool = True  # False while the saga still has work left (e.g. a cancellation)


@dataclass(frozen=True)
class SagaEntry:
    booking_id: str
    seq: int
    step: str  # reserve | charge | confirm | cancel
    action: str  # do | compensate
    status: str  # started | succeeded | failed
    detail: str | None = None  # outcome of a finished call: ok, conflict, declined, timeout...


@dataclass(frozen=True)
class ReservationRow:
    booking_id: str
    facility_id: str | None  # None in a tombstone (a release that came before its reserve)
    starts_at: datetime | None
    ends_at: datetime | None
    status: str  # held | confirmed | released


@dataclass(frozen=True)
class ChargeRow:
    booking_id: str
    status: str  # captured | refunded | voided
    id: str = ""
    amount_cents: int = 0


@dataclass(frozen=True)
class OutboxRow:
    service: str
    event_id: str
    type: str
    published: bool
    booking_id: str | None = None


@dataclass(frozen=True)
class NotificationRow:
    id: str
    event_id: str
    event_type: str
    booking_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    type: str | None = None
    reason: str | None = None
    booking_id: str | None = None


@dataclass
class Snapshot:
    """Everything the audit reads, at one moment after the suite went quiet."""

    bookings: list[BookingRow] = field(default_factory=list)
    saga: list[SagaEntry] = field(default_factory=list)
    reservations: list[ReservationRow] = field(default_factory=list)
    charges: list[ChargeRow] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)
    notifications: list[NotificationRow] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def only(self, booking_ids: Iterable[str]) -> Snapshot:
        """The rows about these bookings: an experiment audits what it did, nothing else."""
        ids = set(booking_ids)
        return Snapshot(
            bookings=[b for b in self.bookings if b.id in ids],
            saga=[e for e in self.saga if e.booking_id in ids],
            reservations=[r for r in self.reservations if r.booking_id in ids],
            charges=[c for c in self.charges if c.booking_id in ids],
            outbox=[o for o in self.outbox if o.booking_id in ids],
            notifications=[n for n in self.notifications if n.booking_id in ids],
            dead_letters=[d for d in self.dead_letters if d.booking_id in ids],
        )
