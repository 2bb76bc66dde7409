"""The saga against real PostgreSQL: crashes at any point resume, one driver per saga."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from system_under_test.bookings.domain import (
    Action,
    Booking,
    BookingStatus,
    EntryStatus,
    Reason,
    Step,
)

from .helpers import outbox_events

pytestmark = pytest.mark.integration


@pytest.fixture
def bookings_database_url(database_url: str) -> str:
    # One database for the module; every test settles its sagas and reads only its own rows.
    return database_url


class Crash(Exception):
    """Stands for the process dying: nothing after it runs."""


class CrashOn:
    """A client whose `method` dies: after the call reached the downstream (its answer is
    lost), or before it was sent."""

    def __init__(self, client: Any, method: str, *, reached: bool = True) -> None:
        self._client, self._method, self._reached = client, method, reached

    def __getattr__(self, name: str) -> Any:
        real = getattr(self._client, name)
        if name != self._method:
            return real

        async def dying(booking: Booking) -> None:
            if self._reached:
                await real(booking)
            raise Crash

        return dying


class CrashingPublisher:
    """Dies while writing the terminal event, so the finishing transaction rolls back."""

    async def emit(self, conn: Any, event: dict) -> None:
        raise Crash


def new_booking(**overrides: Any) -> Booking:
    start = datetime(2032, 1, 1, 9, tzinfo=UTC)
    fields: dict[str, Any] = {
        "user_id": uuid.uuid4(),
        "facility_id": uuid.uuid4(),
        "starts_at": start,
        "ends_at": start + timedelta(hours=1),
        "amount_cents": 9900,
        "payment_method": "pm_card_visa",
    }
    fields.update(overrides)
    return Booking.create(**fields)


async def test_crash_after_the_charge_reached_payments_resumes_to_confirmed(
    service_for, downstreams
):
    booking = new_booking()
    crash_charge = lambda client: CrashOn(client, "charge")  # noqa: E731
    async with service_for(wrap_payments=crash_charge) as service:
        with pytest.raises(Crash):
            await service.place("k1", booking)
        log = await service.saga_log(booking.id)
        assert (log[-1].step, log[-1].status) == (Step.CHARGE, EntryStatus.STARTED)
        assert not (await service.get(booking.id)).settled
    assert downstreams.payments.charges[str(booking.id)] == "captured"

    async with service_for() as restarted:
        assert await restarted.recover(idle_s=0) == 1
        stored = await restarted.get(booking.id)
    assert stored.booking.status is BookingStatus.CONFIRMED and stored.settled
    # The charge was made again, and payments recognised it as the same one.
    assert downstreams.payments.calls["charge"] == 2
    assert downstreams.facilities.reservations[str(booking.id)].status == "confirmed"
    events = outbox_events(stored_url(restarted), booking.id)
    assert [e["type"] for e in events] == ["booking.confirmed"]


async def test_crash_during_compensation_resumes_and_finishes_it(service_for, downstreams):
    booking = new_booking()
    downstreams.payments.fail("charge", "503", "503")
    crash_refund = lambda client: CrashOn(client, "refund", reached=False)  # noqa: E731
    async with service_for(wrap_payments=crash_refund) as service:
        with pytest.raises(Crash):
            await service.place("k2", booking)
    assert downstreams.facilities.reservations[str(booking.id)].status == "held"

    async with service_for() as restarted:
        await restarted.recover(idle_s=0)
        stored = await restarted.get(booking.id)
        log = await restarted.saga_log(booking.id)
    assert (stored.booking.status, stored.booking.reason) == (
        BookingStatus.CANCELLED,
        Reason.PAYMENT_UNAVAILABLE,
    )
    assert downstreams.payments.charges[str(booking.id)] == "voided"
    assert downstreams.facilities.reservations[str(booking.id)].status == "released"
    undone = [e.step for e in log if e.action is Action.COMPENSATE and e.detail == "ok"]
    assert undone == [Step.CHARGE, Step.RESERVE]


async def test_crash_while_writing_the_terminal_status_loses_nothing(service_for, downstreams):
    booking = new_booking()
    async with service_for() as service:
        service.uow.publisher, publisher = CrashingPublisher(), service.uow.publisher
        with pytest.raises(Crash):
            await service.place("k3", booking)
        # Status and event are one transaction: neither was written.
        stored = await service.get(booking.id)
        assert stored.booking.status is BookingStatus.PENDING and not stored.settled
        assert outbox_events(stored_url(service), booking.id) == []

        service.uow.publisher = publisher
        await service.recover(idle_s=0)
        stored = await service.get(booking.id)
    assert stored.booking.status is BookingStatus.CONFIRMED
    assert [e["type"] for e in outbox_events(stored_url(service), booking.id)] == [
        "booking.confirmed"
    ]
    assert downstreams.facilities.calls["confirm"] == 1


async def test_crash_during_a_cancellation_resumes_it(service_for, downstreams):
    booking = new_booking()
    async with service_for() as service:
        await service.place("k4", booking)
    crash_release = lambda client: CrashOn(client, "release")  # noqa: E731
    async with service_for(wrap_facilities=crash_release) as service:
        with pytest.raises(Crash):
            await service.cancel(booking.id)
    async with service_for() as restarted:
        await restarted.recover(idle_s=0)
        stored = await restarted.get(booking.id)
    assert (stored.booking.status, stored.booking.reason) == (
        BookingStatus.CANCELLED,
        Reason.CANCELLED_BY_CUSTOMER,
    )
    assert downstreams.payments.charges[str(booking.id)] == "refunded"
    assert downstreams.facilities.reservations[str(booking.id)].status == "released"
    types = [e["type"] for e in outbox_events(stored_url(restarted), booking.id)]
    assert types == ["booking.confirmed", "booking.cancelled"]


async def test_only_one_driver_advances_a_saga_at_a_time(service_for, downstreams):
    booking = new_booking()
    downstreams.facilities.fail("reserve", "slow")
    async with service_for() as service:
        # A zero budget persists the booking without taking any step.
        stored, created = await service.place("k5", booking, budget_s=0)
        assert created and stored.booking.status is BookingStatus.PENDING
        first, second = await asyncio.gather(
            service.advance(booking.id), service.advance(booking.id)
        )
    statuses = sorted([first.booking.status.value, second.booking.status.value])
    assert statuses == ["confirmed", "pending"]
    assert downstreams.facilities.calls["reserve"] == 1


async def test_recovery_leaves_recently_active_sagas_to_their_driver(service_for, downstreams):
    async with service_for() as service:
        booking = new_booking()
        await service.place("k6", booking, budget_s=0)
        assert await service.recover(idle_s=60) == 0
        assert downstreams.facilities.calls["reserve"] == 0
        assert await service.recover(idle_s=0) == 1
        assert (await service.get(booking.id)).booking.status is BookingStatus.CONFIRMED


def stored_url(service: Any) -> str:
    return service.settings.database_url
