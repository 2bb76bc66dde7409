"""facilities' service layer without a database: a slot is held for one booking at a time,
reserve and confirm are idempotent, a release that comes first leaves a tombstone."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from system_under_test.facilities.domain import (
    FacilityNotFound,
    ReservationMismatch,
    ReservationNotFound,
    ReservationReleased,
    Slot,
    SlotUnavailable,
    Status,
)
from system_under_test.facilities.service import FacilitiesService

from .fakes import FakeFacilitiesRepository

pytestmark = pytest.mark.unit
TEN = datetime(2030, 5, 1, 10, tzinfo=UTC)
SLOT = Slot(TEN, TEN + timedelta(hours=1))
OVERLAPPING = Slot(TEN + timedelta(minutes=30), TEN + timedelta(hours=2))
LATER = Slot(TEN + timedelta(hours=1), TEN + timedelta(hours=2))


@pytest.fixture
def service() -> FacilitiesService:
    return FacilitiesService(FakeUnitOfWork(FakeFacilitiesRepository()))


@pytest.fixture
async def chapel(service) -> uuid.UUID:
    return (await service.create_facility("Chapel of Rest", 80)).id


async def test_a_slot_is_held_once_per_booking_and_the_same_request_is_answered_again(
    service, chapel
):
    booking = uuid.uuid4()
    first = await service.reserve(booking, chapel, SLOT)
    again = await service.reserve(booking, chapel, SLOT)
    assert first.created and not again.created and again.reservation == first.reservation
    with pytest.raises(ReservationMismatch):
        await service.reserve(booking, chapel, LATER)


async def test_an_overlapping_slot_is_unavailable_and_an_adjacent_one_is_not(service, chapel):
    await service.reserve(uuid.uuid4(), chapel, SLOT)
    with pytest.raises(SlotUnavailable):
        await service.reserve(uuid.uuid4(), chapel, OVERLAPPING)
    assert (await service.reserve(uuid.uuid4(), chapel, LATER)).created
    with pytest.raises(FacilityNotFound):
        await service.reserve(uuid.uuid4(), uuid.uuid4(), SLOT)


async def test_a_released_slot_is_free_again_but_not_for_its_booking(service, chapel):
    booking = uuid.uuid4()
    await service.reserve(booking, chapel, SLOT)
    await service.release(booking)
    await service.release(booking)  # idempotent
    with pytest.raises(ReservationReleased):
        await service.reserve(booking, chapel, SLOT)
    with pytest.raises(ReservationReleased):
        await service.confirm(booking)
    assert (await service.reserve(uuid.uuid4(), chapel, SLOT)).created


async def test_a_release_before_the_reserve_keeps_a_late_reserve_from_holding_the_slot(
    service, chapel
):
    booking = uuid.uuid4()
    await service.release(booking)  # the caller gave up before its reserve arrived
    with pytest.raises(ReservationReleased):
        await service.reserve(booking, chapel, SLOT)
    with pytest.raises(ReservationNotFound):
        await service.get_reservation(booking)
    assert await service.availability(chapel, date(2030, 5, 1)) == []


async def test_confirm_is_idempotent_and_needs_a_reservation(service, chapel):
    booking = uuid.uuid4()
    await service.reserve(booking, chapel, SLOT)
    assert (await service.confirm(booking)).status is Status.CONFIRMED
    assert (await service.confirm(booking)).status is Status.CONFIRMED
    with pytest.raises(ReservationNotFound):
        await service.confirm(uuid.uuid4())


async def test_availability_lists_the_held_and_confirmed_slots_of_that_day(service, chapel):
    held, confirmed, released = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    await service.reserve(confirmed, chapel, LATER)
    await service.confirm(confirmed)
    await service.reserve(held, chapel, SLOT)
    await service.reserve(
        released, chapel, Slot(TEN + timedelta(hours=3), TEN + timedelta(hours=4))
    )
    await service.release(released)
    await service.reserve(
        uuid.uuid4(), chapel, Slot(TEN + timedelta(days=1), TEN + timedelta(days=1, hours=1))
    )
    day = await service.availability(chapel, date(2030, 5, 1))
    assert [r.booking_id for r in day] == [held, confirmed]
    with pytest.raises(FacilityNotFound):
        await service.availability(uuid.uuid4(), date(2030, 5, 1))


async def test_of_dozens_of_bookings_for_one_slot_in_flight_one_holds_it(service, chapel):
    answers = await asyncio.gather(
        *(service.reserve(uuid.uuid4(), chapel, SLOT) for _ in range(30)), return_exceptions=True
    )
    assert sum(1 for a in answers if not isinstance(a, BaseException)) == 1
    assert sum(1 for a in answers if isinstance(a, SlotUnavailable)) == 29
