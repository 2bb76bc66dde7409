"""Reservation rules without a database."""

import uuid
from datetime import UTC, date, datetime, timedelta, timezone

import pytest

from system_under_test.facilities.domain import (
    InvalidSlot,
    Reservation,
    ReservationMismatch,
    ReservationReleased,
    Slot,
    Status,
    day_window,
)

pytestmark = pytest.mark.unit

T0 = datetime(2030, 5, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def test_slot_needs_an_offset_and_a_positive_length():
    with pytest.raises(InvalidSlot):
        Slot(T0, T0)
    with pytest.raises(InvalidSlot):
        Slot(T0.replace(tzinfo=None), (T0 + HOUR).replace(tzinfo=None))


def test_adjacent_slots_do_not_overlap_but_intersecting_ones_do():
    morning = Slot(T0, T0 + HOUR)
    assert not morning.overlaps(Slot(T0 + HOUR, T0 + 2 * HOUR))
    assert morning.overlaps(Slot(T0 + HOUR / 2, T0 + 2 * HOUR))
    # Same instant written in another offset.
    paris = timezone(timedelta(hours=2))
    assert morning.overlaps(Slot(T0.astimezone(paris), (T0 + HOUR).astimezone(paris)))


def test_rehold_returns_the_same_reservation_or_refuses():
    facility = uuid.uuid4()
    held = Reservation(uuid.uuid4(), facility, Slot(T0, T0 + HOUR))
    assert held.rehold(facility, Slot(T0, T0 + HOUR)) is held
    with pytest.raises(ReservationMismatch):
        held.rehold(facility, Slot(T0, T0 + 2 * HOUR))
    with pytest.raises(ReservationReleased):
        held.release().rehold(facility, Slot(T0, T0 + HOUR))


def test_confirm_is_idempotent_and_impossible_once_released():
    held = Reservation(uuid.uuid4(), uuid.uuid4(), Slot(T0, T0 + HOUR))
    confirmed = held.confirm()
    assert confirmed.status is Status.CONFIRMED and confirmed.confirm() == confirmed
    assert confirmed.occupies_slot
    released = confirmed.release()
    assert not released.occupies_slot
    with pytest.raises(ReservationReleased):
        released.confirm()


def test_a_tombstone_refuses_any_later_hold():
    tomb = Reservation.tombstone(uuid.uuid4())
    assert tomb.is_tombstone and not tomb.occupies_slot
    with pytest.raises(ReservationReleased):
        tomb.rehold(uuid.uuid4(), Slot(T0, T0 + HOUR))


def test_day_window_is_the_utc_day():
    window = day_window(date(2030, 5, 1))
    assert window.starts_at == datetime(2030, 5, 1, tzinfo=UTC)
    assert window.ends_at - window.starts_at == timedelta(days=1)
