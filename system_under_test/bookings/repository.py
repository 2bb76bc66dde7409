"""Database adapter of bookings: rows in, domain objects out (SQLAlchemy Core)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import func, insert, select, text, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.engine import Row
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

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


async def add(conn: AsyncConnection, booking: Booking) -> StoredBooking:
    row = (
        await conn.execute(
            insert(bookings)
            .values(
                id=booking.id,
                user_id=booking.user_id,
                facility_id=booking.facility_id,
                starts_at=booking.starts_at,
                ends_at=booking.ends_at,
                amount_cents=booking.amount_cents,
                payment_method=booking.payment_method,
                status=booking.status.value,
                reason=booking.reason,
                settled=booking.terminal,
            )
            .returning(*bookings.c)
        )
    ).one()
    return _stored(row)


async def get(
    conn: AsyncConnection, booking_id: uuid.UUID, *, for_update: bool = False
) -> StoredBooking | None:
    query = select(bookings).where(bookings.c.id == booking_id)
    if for_update:
        query = query.with_for_update()
    row = (await conn.execute(query)).first()
    return _stored(row) if row else None


async def list_(
    conn: AsyncConnection, status: BookingStatus | None = None, limit: int = 1000
) -> list[StoredBooking]:
    query = select(bookings).order_by(bookings.c.created_at, bookings.c.id).limit(limit)
    if status is not None:
        query = query.where(bookings.c.status == status.value)
    return [_stored(row) for row in (await conn.execute(query)).all()]


async def unsettled_ids(conn: AsyncConnection, idle_s: float) -> list[uuid.UUID]:
    """Sagas with work left whose last activity is at least `idle_s` seconds old."""
    query = (
        select(bookings.c.id)
        .where(~bookings.c.settled)
        .where(bookings.c.updated_at <= func.now() - func.make_interval(0, 0, 0, 0, 0, 0, idle_s))
        .order_by(bookings.c.updated_at)
    )
    return list((await conn.scalars(query)).all())


async def settle(
    conn: AsyncConnection, booking_id: uuid.UUID, status: BookingStatus, reason: str | None
) -> StoredBooking | None:
    """Write the terminal status; None when the saga was already settled."""
    row = (
        await conn.execute(
            update(bookings)
            .where(bookings.c.id == booking_id, ~bookings.c.settled)
            .values(status=status.value, reason=reason, settled=True, updated_at=func.now())
            .returning(*bookings.c)
        )
    ).first()
    return _stored(row) if row else None


async def unsettle(conn: AsyncConnection, booking_id: uuid.UUID) -> None:
    await conn.execute(
        update(bookings)
        .where(bookings.c.id == booking_id)
        .values(settled=False, updated_at=func.now())
    )


async def read_log(conn: AsyncConnection, booking_id: uuid.UUID) -> list[LogEntry]:
    rows = (
        await conn.execute(
            select(saga_log).where(saga_log.c.booking_id == booking_id).order_by(saga_log.c.seq)
        )
    ).all()
    return [
        LogEntry(Step(r.step), Action(r.action), EntryStatus(r.status), r.detail, at=r.at)
        for r in rows
    ]


async def append_log(conn: AsyncConnection, booking_id: uuid.UUID, entry: LogEntry) -> None:
    """Append one entry and mark the booking active (so recovery leaves it alone a while)."""
    next_seq = (
        select(func.coalesce(func.max(saga_log.c.seq), 0) + 1)
        .where(saga_log.c.booking_id == booking_id)
        .scalar_subquery()
    )
    await conn.execute(
        insert(saga_log).values(
            booking_id=booking_id,
            seq=next_seq,
            step=entry.step.value,
            action=entry.action.value,
            status=entry.status.value,
            detail=entry.detail,
        )
    )
    await conn.execute(
        update(bookings).where(bookings.c.id == booking_id).values(updated_at=func.now())
    )


async def get_key(conn: AsyncConnection, key: str) -> StoredKey | None:
    row = (
        await conn.execute(
            select(idempotency_keys.c.booking_id, idempotency_keys.c.fingerprint).where(
                idempotency_keys.c.key == key
            )
        )
    ).first()
    return StoredKey(row.booking_id, row.fingerprint) if row else None


async def claim_key(
    conn: AsyncConnection, key: str, booking_id: uuid.UUID, fingerprint: str
) -> bool:
    """Record the key for this booking; False when a concurrent request claimed it first."""
    claimed = await conn.scalar(
        pg_insert(idempotency_keys)
        .values(key=key, booking_id=booking_id, fingerprint=fingerprint)
        .on_conflict_do_nothing(index_elements=["key"])
        .returning(idempotency_keys.c.key)
    )
    return claimed is not None


def _lock_key(booking_id: uuid.UUID) -> int:
    return int.from_bytes(booking_id.bytes[:8], "big", signed=True)


@asynccontextmanager
async def saga_lock(engine: AsyncEngine, booking_id: uuid.UUID) -> AsyncIterator[bool]:
    """Try to become the only driver of this saga; yields False when another holds it.

    A session-level advisory lock on its own connection: it spans the saga's many short
    transactions, and dies with the connection if the process is killed.
    """
    key = _lock_key(booking_id)
    async with engine.connect() as conn:
        locked = bool(await conn.scalar(text("SELECT pg_try_advisory_lock(:k)"), {"k": key}))
        await conn.commit()
        try:
            yield locked
        finally:
            if locked:
                try:
                    await conn.scalar(text("SELECT pg_advisory_unlock(:k)"), {"k": key})
                    await conn.commit()
                except BaseException:
                    # Never hand a connection that may still hold the lock back to the pool.
                    await conn.invalidate()
                    raise
