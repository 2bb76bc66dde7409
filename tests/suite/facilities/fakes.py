"""facilities' repository in memory (the rules `SqlFacilitiesRepository` keeps: a held or
confirmed reservation occupies its slot, which no other reservation of the facility may
overlap, as the exclusion constraint ensures; one reservation per booking)."""

from __future__ import annotations

from dataclasses import replace
from uuid import UUID

from system_under_test.facilities.domain import Facility, Reservation, Slot, SlotUnavailable, Status


class FakeFacilitiesRepository:
    def __init__(self) -> None:
        self.facilities: dict[UUID, Facility] = {}
        self.reservations: dict[UUID, Reservation] = {}

    async def lock_booking(self, booking_id: UUID) -> None:
        """Nothing to do: the in-memory unit of work runs one transaction at a time."""

    async def add_facility(self, facility: Facility) -> None:
        self.facilities[facility.id] = facility

    async def get_facility(self, facility_id: UUID) -> Facility | None:
        return self.facilities.get(facility_id)

    async def list_facilities(self, limit: int, offset: int) -> list[Facility]:
        ordered = sorted(self.facilities.values(), key=lambda f: (f.name, str(f.id)))
        return ordered[offset : offset + limit]

    async def get_reservation(self, booking_id: UUID) -> Reservation | None:
        return self.reservations.get(booking_id)

    async def hold_if_free(self, reservation: Reservation) -> bool:
        if reservation.slot is None:
            raise ValueError("a tombstone holds no slot")
        free = (
            reservation.facility_id in self.facilities
            and reservation.booking_id not in self.reservations
            and not self._overlapping(reservation)
        )
        if free:
            self.reservations[reservation.booking_id] = reservation
        return free

    async def confirm_if_held(self, booking_id: UUID) -> Reservation | None:
        held = self.reservations.get(booking_id)
        if held is None or held.status is not Status.HELD:
            return None
        confirmed = self.reservations[booking_id] = replace(held, status=Status.CONFIRMED)
        return confirmed

    async def add_reservation(self, reservation: Reservation) -> None:
        if reservation.booking_id in self.reservations:
            raise ValueError(f"booking {reservation.booking_id} has a reservation already")
        if self._overlapping(reservation):
            raise SlotUnavailable("the slot overlaps another reservation")
        self.reservations[reservation.booking_id] = reservation

    async def set_status(self, booking_id: UUID, status: Status) -> None:
        self.reservations[booking_id] = replace(self.reservations[booking_id], status=status)

    async def reserved_between(self, facility_id: UUID, window: Slot) -> list[Reservation]:
        found = [
            r
            for r in self.reservations.values()
            if r.facility_id == facility_id
            and r.occupies_slot
            and r.slot
            and r.slot.overlaps(window)
        ]
        return sorted(found, key=lambda r: r.slot.starts_at if r.slot else window.starts_at)

    def _overlapping(self, wanted: Reservation) -> bool:
        if wanted.slot is None or not wanted.occupies_slot:
            return False
        return any(
            r.facility_id == wanted.facility_id
            and r.occupies_slot
            and r.slot is not None
            and r.slot.overlaps(wanted.slot)
            for r in self.reservations.values()
            if r.booking_id != wanted.booking_id
        )
