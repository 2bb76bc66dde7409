"""Use cases of facilities: each runs in one unit of work; the common case of reserve and
confirm is a single statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date
from uuid import UUID

from system_under_test.common.uow import UnitOfWork

from .domain import (
    Facility,
    FacilityNotFound,
    Reservation,
    ReservationNotFound,
    Slot,
    day_window,
)
from .repository import FacilitiesRepository


@dataclass(frozen=True)
class Reserved:
    reservation: Reservation
    created: bool


class FacilitiesService:
    def __init__(self, uow: UnitOfWork[FacilitiesRepository]) -> None:
        self.uow = uow

    async def create_facility(self, name: str, capacity: int) -> Facility:
        facility = Facility(id=uuid.uuid4(), name=name, capacity=capacity)
        async with self.uow.statement() as tx:
            await tx.repo.add_facility(facility)
        return facility

    async def get_facility(self, facility_id: UUID) -> Facility:
        async with self.uow.statement() as tx:
            facility = await tx.repo.get_facility(facility_id)
        if facility is None:
            raise FacilityNotFound(f"no facility {facility_id}")
        return facility

    async def list_facilities(self, limit: int = 100, offset: int = 0) -> list[Facility]:
        async with self.uow.statement() as tx:
            return await tx.repo.list_facilities(limit, offset)

    async def availability(self, facility_id: UUID, day: date) -> list[Reservation]:
        async with self.uow.transaction() as tx:
            repo = tx.repo
            if await repo.get_facility(facility_id) is None:
                raise FacilityNotFound(f"no facility {facility_id}")
            return await repo.reserved_between(facility_id, day_window(day))

    async def reserve(self, booking_id: UUID, facility_id: UUID, slot: Slot) -> Reserved:
        """Hold the slot for the booking; the same request again returns the same hold."""
        reservation = Reservation(booking_id, facility_id, slot)
        # The common case, a free slot for a new booking, is one statement; anything else (a
        # repeat, a taken slot, an unknown facility, a tombstone) is sorted out below.
        async with self.uow.statement() as tx:
            if await tx.repo.hold_if_free(reservation):
                return Reserved(reservation, created=True)
        async with self.uow.transaction() as tx:
            repo = tx.repo
            await repo.lock_booking(booking_id)
            existing = await repo.get_reservation(booking_id)
            if existing is not None:
                return Reserved(existing.rehold(facility_id, slot), created=False)
            if await repo.get_facility(facility_id) is None:
                raise FacilityNotFound(f"no facility {facility_id}")
            reservation = Reservation(booking_id, facility_id, slot)
            await repo.add_reservation(reservation)
        return Reserved(reservation, created=True)

    async def confirm(self, booking_id: UUID) -> Reservation:
        async with self.uow.statement() as tx:  # the common case: held, in one statement
            confirmed = await tx.repo.confirm_if_held(booking_id)
        if confirmed is not None:
            return confirmed
        async with self.uow.transaction() as tx:
            repo = tx.repo
            await repo.lock_booking(booking_id)
            existing = await repo.get_reservation(booking_id)
            if existing is None:
                raise ReservationNotFound(f"no reservation for booking {booking_id}")
            confirmed = existing.confirm()
            if confirmed.status is not existing.status:
                await repo.set_status(booking_id, confirmed.status)
        return confirmed

    async def release(self, booking_id: UUID) -> None:
        """Free the slot (idempotent). Releasing a booking never reserved leaves a tombstone,
        so a reserve that arrives late (after its caller gave up) cannot hold the slot."""
        async with self.uow.transaction() as tx:
            repo = tx.repo
            await repo.lock_booking(booking_id)
            existing = await repo.get_reservation(booking_id)
            if existing is None:
                await repo.add_reservation(Reservation.tombstone(booking_id))
            elif existing.occupies_slot:
                await repo.set_status(booking_id, existing.release().status)

    async def get_reservation(self, booking_id: UUID) -> Reservation:
        async with self.uow.statement() as tx:
            reservation = await tx.repo.get_reservation(booking_id)
        if reservation is None or reservation.is_tombstone:
            raise ReservationNotFound(f"no reservation for booking {booking_id}")
        return reservation
