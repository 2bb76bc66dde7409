"""Database adapter of bookings: rows in, domain objects out (SQLAlchemy Core).

`BookingRepository` is what the saga relies on; `SqlBookingRepository` keeps those promises in
PostgreSQL, each method one statement. The lease methods are the "one driver per saga"
contract (docs/architecture.md): a lease is taken only when free or run out, and every write
of a driver is fenced on it.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, replace
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import func, insert, or_, select, text, update
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import (
    Action,
    Booking,
    BookingStatus,
    EntryStatus,
    LogEntry,
    Step,
)
from .orm import bookings, idempotency_keys, saga_log


@dataclass(frozen=True)
class StoredBooking:
    booking: Booking
    settled: bool
    created_at: datetime
    updated_at: datetime


@dataclass(frozen=True)
class StoredKey:
    booking_id: uuid.UUID
    fingerprint: str


@dataclass(frozen=True)
class Leased:
    """A saga whose lease this driver took, with the database's clock at that moment."""

    stored: StoredBooking
    now: datetime


class BookingRepository(Protocol):
    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> StoredBooking | None:
        """The booking; `for_update` locks its row until the transaction ends."""
        ...

    async def list_(
        self, status: BookingStatus | None = None, limit: int = 1000
    ) -> list[StoredBooking]:
        """Oldest first."""
        ...

    async def unsettled_ids(self, idle_s: float) -> list[uuid.UUID]:
        """Sagas with work left, quiet for at least `idle_s` seconds, that no live driver
        holds; the longest quiet first."""
        ...

    async def read_log(self, booking_id: uuid.UUID) -> list[LogEntry]: ...

    async def append_log(self, booking_id: uuid.UUID, entry: LogEntry) -> None:
        """Append one entry (unfenced: inside the transaction that took the lease)."""
        ...

    async def get_key(self, key: str) -> StoredKey | None: ...

    async def create(
        self,
        key: str,
        booking: Booking,
        fingerprint: str,
        owner: uuid.UUID,
        lease_s: float,
        entries: Sequence[LogEntry],
    ) -> Leased | None:
        """Claim `key` for a new booking leased to `owner`, with its first log `entries`, all
        or nothing; None when the key was claimed before (nothing is written then)."""
        ...

    async def append_fenced(
        self,
        booking_id: uuid.UUID,
        owner: uuid.UUID,
        lease_s: float,
        first_seq: int,
        entries: Sequence[LogEntry],
    ) -> list[LogEntry] | None:
        """Append `entries` and renew the lease, only while `owner` holds it; the entries with
        their time, or None (nothing written) when the lease was lost."""
        ...

    async def take_lease(
        self, booking_id: uuid.UUID, owner: uuid.UUID, lease_s: float, *, reopen: bool = False
    ) -> Leased | None:
        """Lease a saga with work left to `owner` unless a live driver holds it; `reopen`
        makes a settled saga unsettled first. None when not taken."""
        ...

    async def renew_lease(
        self, booking_id: uuid.UUID, owner: uuid.UUID, lease_s: float
    ) -> datetime | None:
        """Extend `owner`'s lease: the database's time, or None when the lease was lost."""
        ...

    async def release_lease(self, booking_id: uuid.UUID, owner: uuid.UUID) -> None: ...

    async def settle(
        self,
        booking_id: uuid.UUID,
        owner: uuid.UUID,
        status: BookingStatus,
        reason: str | None,
    ) -> StoredBooking | None:
        """The terminal status, and the end of the lease; None when `owner` no longer holds
        it or the saga is settled already (nothing written then)."""
        ...


def _stored(row: Row) -> StoredBooking:
    booking = Booking(
        id=row.id,
        user_id=row.user_id,
        facility_id=row.facility_id,
        starts_at=row.starts_at,
        ends_at=row.ends_at,
        amount_cents=row.amount_cents,
        payment_method=row.payment_method,
        status=BookingStatus(row.status),
        reason=row.reason,
    )
    return StoredBooking(booking, row.settled, row.created_at, row.updated_at)


# -- leases: one driver per saga --------------------------------------------------------------


def _seconds(value: float) -> Any:
    return func.make_interval(0, 0, 0, 0, 0, 0, value)


def _lease_free() -> Any:
    return or_(bookings.c.lease_owner.is_(None), bookings.c.lease_until < func.now())


_ENTRIES = """unnest(CAST(:seqs AS int[]), CAST(:steps AS text[]), CAST(:actions AS text[]),
                    CAST(:statuses AS text[]), CAST(:details AS text[]))
             AS e(seq, step, action, status, detail)"""


def _entry_params(first_seq: int, entries: Sequence[LogEntry]) -> dict[str, list[Any]]:
    return {
        "seqs": [first_seq + i for i in range(len(entries))],
        "steps": [e.step.value for e in entries],
        "actions": [e.action.value for e in entries],
        "statuses": [e.status.value for e in entries],
        "details": [e.detail for e in entries],
    }


# The key, the booking (leased to its creator) and its first log entries in one statement, so
# one round trip makes all or none of them. Foreign keys are checked at the end of the
# statement, when the booking row exists.
_CREATE = text(f"""
WITH claim AS (
    INSERT INTO idempotency_keys (key, booking_id, fingerprint)
    VALUES (:key, :id, :fingerprint)
    ON CONFLICT (key) DO NOTHING
    RETURNING booking_id
), booking AS (
    INSERT INTO bookings (id, user_id, facility_id, starts_at, ends_at, amount_cents,
                          payment_method, status, settled, lease_owner, lease_until)
    SELECT booking_id, :user_id, :facility_id, :starts_at, :ends_at, :amount_cents,
           CAST(:payment_method AS text), CAST(:status AS text), false, :owner,
           now() + make_interval(secs => :lease_s)
    FROM claim
    RETURNING *
), entries AS (
    INSERT INTO saga_log (booking_id, seq, step, action, status, detail)
    SELECT booking.id, e.seq, e.step, e.action, e.status, e.detail
    FROM booking, {_ENTRIES}
)
SELECT booking.*, now() AS now FROM booking
""")

# Fenced: the entries are written only while `owner` holds the lease, which the write renews.
_APPEND = text(f"""
WITH lease AS (
    UPDATE bookings
    SET updated_at = now(), lease_until = now() + make_interval(secs => :lease_s)
    WHERE id = :id AND lease_owner = :owner
    RETURNING id
)
INSERT INTO saga_log (booking_id, seq, step, action, status, detail)
SELECT lease.id, e.seq, e.step, e.action, e.status, e.detail
FROM lease, {_ENTRIES}
RETURNING at
""")


class SqlBookingRepository:
    """Each method one statement on the caller's connection (a transaction, or autocommit)."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> StoredBooking | None:
        query = select(bookings).where(bookings.c.id == booking_id)
        if for_update:
            query = query.with_for_update()
        row = (await self.conn.execute(query)).first()
        return _stored(row) if row else None

    async def list_(
        self, status: BookingStatus | None = None, limit: int = 1000
    ) -> list[StoredBooking]:
        query = select(bookings).order_by(bookings.c.created_at, bookings.c.id).limit(limit)
        if status is not None:
            query = query.where(bookings.c.status == status.value)
        return [_stored(row) for row in (await self.conn.execute(query)).all()]

    async def unsettled_ids(self, idle_s: float) -> list[uuid.UUID]:
        """Sagas with work left, quiet for at least `idle_s` seconds, that no live driver holds."""
        query = (
            select(bookings.c.id)
            .where(~bookings.c.settled)
            .where(bookings.c.updated_at <= func.now() - _seconds(idle_s))
            .where(_lease_free())
            .order_by(bookings.c.updated_at)
        )
        return list((await self.conn.scalars(query)).all())

    async def read_log(self, booking_id: uuid.UUID) -> list[LogEntry]:
        rows = (
            await self.conn.execute(
                select(saga_log).where(saga_log.c.booking_id == booking_id).order_by(saga_log.c.seq)
            )
        ).all()
        return [
            LogEntry(Step(r.step), Action(r.action), EntryStatus(r.status), r.detail, at=r.at)
            for r in rows
        ]

    async def append_log(self, booking_id: uuid.UUID, entry: LogEntry) -> None:
        """Append one entry and mark the booking active (so recovery leaves it alone a while)."""
        next_seq = (
            select(func.coalesce(func.max(saga_log.c.seq), 0) + 1)
            .where(saga_log.c.booking_id == booking_id)
            .scalar_subquery()
        )
        await self.conn.execute(
            insert(saga_log).values(
                booking_id=booking_id,
                seq=next_seq,
                step=entry.step.value,
                action=entry.action.value,
                status=entry.status.value,
                detail=entry.detail,
            )
        )
        await self.conn.execute(
            update(bookings).where(bookings.c.id == booking_id).values(updated_at=func.now())
        )

    async def get_key(self, key: str) -> StoredKey | None:
        row = (
            await self.conn.execute(
                select(idempotency_keys.c.booking_id, idempotency_keys.c.fingerprint).where(
                    idempotency_keys.c.key == key
                )
            )
        ).first()
        return StoredKey(row.booking_id, row.fingerprint) if row else None

    async def create(
        self,
        key: str,
        booking: Booking,
        fingerprint: str,
        owner: uuid.UUID,
        lease_s: float,
        entries: Sequence[LogEntry],
    ) -> Leased | None:
        """Claim `key` for a new booking leased to `owner`, with its first log `entries`;
        None when the key was claimed before (nothing is written then)."""
        row = (
            await self.conn.execute(
                _CREATE,
                {
                    "key": key,
                    "id": booking.id,
                    "fingerprint": fingerprint,
                    "user_id": booking.user_id,
                    "facility_id": booking.facility_id,
                    "starts_at": booking.starts_at,
                    "ends_at": booking.ends_at,
                    "amount_cents": booking.amount_cents,
                    "payment_method": booking.payment_method,
                    "status": booking.status.value,
                    "owner": owner,
                    "lease_s": lease_s,
                    **_entry_params(1, entries),
                },
            )
        ).first()
        return Leased(_stored(row), row.now) if row else None

    async def append_fenced(
        self,
        booking_id: uuid.UUID,
        owner: uuid.UUID,
        lease_s: float,
        first_seq: int,
        entries: Sequence[LogEntry],
    ) -> list[LogEntry] | None:
        """Append `entries` (numbered from `first_seq`) and renew the lease, only while `owner`
        holds it; returns them with their time, or None when the lease was lost."""
        rows = (
            await self.conn.execute(
                _APPEND,
                {"id": booking_id, "owner": owner, "lease_s": lease_s}
                | _entry_params(first_seq, entries),
            )
        ).all()
        if not rows:
            return None
        return [replace(entry, at=rows[0].at) for entry in entries]

    async def take_lease(
        self,
        booking_id: uuid.UUID,
        owner: uuid.UUID,
        lease_s: float,
        *,
        reopen: bool = False,
    ) -> Leased | None:
        """Lease a saga with work left to `owner` unless a live driver holds it. `reopen` makes a
        settled saga unsettled first (a cancellation gives a confirmed booking work again)."""
        query = (
            update(bookings)
            .where(bookings.c.id == booking_id, _lease_free())
            .values(lease_owner=owner, lease_until=func.now() + _seconds(lease_s))
            .returning(*bookings.c, func.now().label("now"))
        )
        if reopen:
            query = query.values(settled=False, updated_at=func.now())
        else:
            query = query.where(~bookings.c.settled)
        row = (await self.conn.execute(query)).first()
        return Leased(_stored(row), row.now) if row else None

    async def renew_lease(
        self, booking_id: uuid.UUID, owner: uuid.UUID, lease_s: float
    ) -> datetime | None:
        """Extend `owner`'s lease; the database's time, or None when the lease was lost."""
        return await self.conn.scalar(
            update(bookings)
            .where(bookings.c.id == booking_id, bookings.c.lease_owner == owner)
            .values(lease_until=func.now() + _seconds(lease_s))
            .returning(func.now())
        )

    async def release_lease(self, booking_id: uuid.UUID, owner: uuid.UUID) -> None:
        await self.conn.execute(
            update(bookings)
            .where(bookings.c.id == booking_id, bookings.c.lease_owner == owner)
            .values(lease_owner=None, lease_until=None)
        )

    async def settle(
        self,
        booking_id: uuid.UUID,
        owner: uuid.UUID,
        status: BookingStatus,
        reason: str | None,
    ) -> StoredBooking | None:
        """Write the terminal status and end the lease; None when `owner` no longer holds it."""
        row = (
            await self.conn.execute(
                update(bookings)
                .where(
                    bookings.c.id == booking_id,
                    ~bookings.c.settled,
                    bookings.c.lease_owner == owner,
                )
                .values(
                    status=status.value,
                    reason=reason,
                    settled=True,
                    updated_at=func.now(),
                    lease_owner=None,
                    lease_until=None,
                )
                .returning(*bookings.c)
            )
        ).first()
        return _stored(row) if row else None
