"""Database adapter: facilities and reservations in and out of the tables."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from psycopg import errors as pg_errors
from sqlalchemy import Row, func, select, text, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import Facility, Reservation, Slot, SlotUnavailable, Status
from .orm import facilities, reservations


def _facility(row: Row) -> Facility:
    return Facility(id=row.id, name=row.name, capacity=row.capacity)


def _reservation(row: Row) -> Reservation:
    return Reservation(
        booking_id=row.booking_id,
        facility_id=row.facility_id,
        slot=Slot(row.starts_at, row.ends_at) if row.starts_at is not None else None,
        status=Status(row.status),
    )


_HOLD_IF_FREE = text("""
INSERT INTO reservations (booking_id, facility_id, starts_at, ends_at, status)
SELECT :booking_id, id, :starts_at, :ends_at, :status FROM facilities WHERE id = :facility_id
ON CONFLICT DO NOTHING
RETURNING booking_id
""")


class FacilitiesRepository(Protocol):
    """Facilities and reservations. Within one transaction, `lock_booking` serialises every
    request for that booking until the transaction ends; `add_reservation` raises
    `SlotUnavailable` when a held or confirmed reservation of the facility overlaps."""

    async def lock_booking(self, booking_id: UUID) -> None: ...
    async def add_facility(self, facility: Facility) -> None: ...
    async def get_facility(self, facility_id: UUID) -> Facility | None: ...
    async def list_facilities(self, limit: int, offset: int) -> list[Facility]: ...
    async def get_reservation(self, booking_id: UUID) -> Reservation | None: ...
    async def hold_if_free(self, reservation: Reservation) -> bool: ...
    async def confirm_if_held(self, booking_id: UUID) -> Reservation | None: ...
    async def add_reservation(self, reservation: Reservation) -> None: ...
    async def set_status(self, booking_id: UUID, status: Status) -> None: ...
    async def reserved_between(self, facility_id: UUID, window: Slot) -> list[Reservation]: ...


class SqlFacilitiesRepository:
    """Works inside the caller's transaction, or on an autocommit connection for the
    single-statement fast paths."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_booking(self, booking_id: UUID) -> None:
        """Serialise concurrent requests for one booking id until the transaction ends."""
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"reservation:{booking_id}"},
        )

    async def add_facility(self, facility: Facility) -> None:
        await self.conn.execute(
            facilities.insert().values(
                id=facility.id, name=facility.name, capacity=facility.capacity
            )
        )

    async def get_facility(self, facility_id: UUID) -> Facility | None:
        row = (
            await self.conn.execute(select(facilities).where(facilities.c.id == facility_id))
        ).first()
        return _facility(row) if row else None

    async def list_facilities(self, limit: int, offset: int) -> list[Facility]:
        rows = await self.conn.execute(
            select(facilities)
            .order_by(facilities.c.name, facilities.c.id)
            .limit(limit)
            .offset(offset)
        )
        return [_facility(r) for r in rows]

    async def get_reservation(self, booking_id: UUID) -> Reservation | None:
        row = (
            await self.conn.execute(
                select(reservations).where(reservations.c.booking_id == booking_id)
            )
        ).first()
        return _reservation(row) if row else None

    async def hold_if_free(self, reservation: Reservation) -> bool:
        """Insert a new hold in one statement when its facility exists, the booking has no
        reservation yet and the slot is free; False (nothing written) otherwise. ON CONFLICT
        without a target also covers the exclusion constraint that keeps slots apart."""
        slot = reservation.slot
        if slot is None:
            raise ValueError("a tombstone holds no slot")
        held = await self.conn.scalar(
            _HOLD_IF_FREE,
            {
                "booking_id": reservation.booking_id,
                "facility_id": reservation.facility_id,
                "starts_at": slot.starts_at,
                "ends_at": slot.ends_at,
                "status": reservation.status.value,
            },
        )
        return held is not None

    async def confirm_if_held(self, booking_id: UUID) -> Reservation | None:
        """held -> confirmed in one statement; None when the reservation is not held."""
        row = (
            await self.conn.execute(
                update(reservations)
                .where(
                    reservations.c.booking_id == booking_id,
                    reservations.c.status == Status.HELD.value,
                )
                .values(status=Status.CONFIRMED.value, updated_at=func.now())
                .returning(*reservations.c)
            )
        ).first()
        return _reservation(row) if row else None

    async def add_reservation(self, reservation: Reservation) -> None:
        """Insert; raises SlotUnavailable when the exclusion constraint refuses the slot."""
        try:
            async with self.conn.begin_nested():
                await self.conn.execute(
                    reservations.insert().values(
                        booking_id=reservation.booking_id,
                        facility_id=reservation.facility_id,
                        starts_at=reservation.slot.starts_at if reservation.slot else None,
                        ends_at=reservation.slot.ends_at if reservation.slot else None,
                        status=reservation.status.value,
                    )
                )
        except IntegrityError as exc:
            if isinstance(exc.orig, pg_errors.ExclusionViolation):
                raise SlotUnavailable("the slot overlaps another reservation") from exc
            raise

    async def set_status(self, booking_id: UUID, status: Status) -> None:
        await self.conn.execute(
            update(reservations)
            .where(reservations.c.booking_id == booking_id)
            .values(status=status.value, updated_at=func.now())
        )

    async def reserved_between(self, facility_id: UUID, window: Slot) -> list[Reservation]:
        """Held and confirmed reservations of the facility overlapping `window`."""
        rows = await self.conn.execute(
            select(reservations)
            .where(
                reservations.c.facility_id == facility_id,
                reservations.c.status != Status.RELEASED.value,
                reservations.c.starts_at < window.ends_at,
                reservations.c.ends_at > window.starts_at,
            )
            .order_by(reservations.c.starts_at)
        )
        return [_reservation(r) for r in rows]
