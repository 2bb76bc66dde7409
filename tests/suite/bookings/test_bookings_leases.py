"""One driver per saga across processes: the lease in the bookings row. Each `service_for()`
is a separate BookingService, as a separate process would build it."""

from __future__ import annotations

import asyncio
import uuid
from datetime import datetime
from typing import Any

import pytest
from sqlalchemy import create_engine, select, text

from system_under_test.bookings.domain import Booking, BookingStatus, EntryStatus, Step
from system_under_test.bookings.orm import bookings

from .helpers import outbox_events
from .test_bookings_saga import new_booking

pytestmark = pytest.mark.integration


@pytest.fixture
def bookings_database_url(database_url: str) -> str:
    return database_url


def _sql(database_url: str, statement: str, **params: Any) -> None:
    engine = create_engine(database_url)
    try:
        with engine.begin() as conn:
            conn.execute(text(statement), params)
    finally:
        engine.dispose()


def _lease(database_url: str, booking_id: uuid.UUID) -> tuple[Any, datetime | None, datetime]:
    """(owner, lease expiry, the database's time now)."""
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            row = conn.execute(
                select(bookings.c.lease_owner, bookings.c.lease_until, text("now()")).where(
                    bookings.c.id == booking_id
                )
            ).one()
    finally:
        engine.dispose()
    return row[0], row[1], row[2]


class TakenOverDuringCharge:
    """Payments whose charge stalls long enough for the lease to run out: meanwhile another
    driver takes the saga over and finishes it; then the stalled charge answers."""

    def __init__(self, client: Any, database_url: str, other: Any) -> None:
        self._client, self._url, self._other = client, database_url, other
        self.taken_over_to: BookingStatus | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self._client, name)

    async def charge(self, booking: Booking) -> Any:
        expire = "UPDATE bookings SET lease_until = now() - interval '1 second' WHERE id = :id"
        _sql(self._url, expire, id=booking.id)
        self.taken_over_to = (await self._other.advance(booking.id)).booking.status
        return await self._client.charge(booking)


async def test_a_driver_whose_lease_ran_out_stops_and_writes_nothing(service_for, downstreams):
    booking = new_booking()
    async with service_for() as other:
        url = other.settings.database_url
        stalled: list[TakenOverDuringCharge] = []

        def wrap(client: Any) -> TakenOverDuringCharge:
            stalled.append(TakenOverDuringCharge(client, url, other))
            return stalled[0]

        async with service_for(wrap_payments=wrap) as first:
            stored, created = await first.place("lease-1", booking)
            log = await first.saga_log(booking.id)
    assert created and stalled[0].taken_over_to is BookingStatus.CONFIRMED
    # The first driver's charge came back after the takeover: its outcome was not written,
    # and it answered with the booking as the other driver left it.
    assert stored.booking.status is BookingStatus.CONFIRMED
    finished = [(e.step, e.status) for e in log if e.status is not EntryStatus.STARTED]
    assert finished == [
        (Step.RESERVE, EntryStatus.SUCCEEDED),
        (Step.CHARGE, EntryStatus.SUCCEEDED),
        (Step.CONFIRM, EntryStatus.SUCCEEDED),
    ]
    assert downstreams.payments.calls["charge"] == 2  # both drivers made it, idempotently
    assert downstreams.payments.charges[str(booking.id)] == "captured"
    assert [e["type"] for e in outbox_events(url, booking.id)] == ["booking.confirmed"]


async def test_a_slow_call_renews_the_lease_so_no_second_driver_starts(
    service_for, downstreams, wait_until
):
    booking = new_booking()
    gate = downstreams.facilities.gates["reserve"] = asyncio.Event()
    slow_ok = {"saga_lease_s": 0.3, "http_timeout_s": 10.0}
    async with service_for(**slow_ok) as first, service_for() as other:
        url = first.settings.database_url
        placing = asyncio.create_task(first.place("lease-2", booking))
        await wait_until(lambda: downstreams.facilities.calls["reserve"] == 1)
        _, first_expiry, _ = _lease(url, booking.id)

        def renewed_past_first_expiry() -> bool:
            owner, until, now = _lease(url, booking.id)
            return owner is not None and now > first_expiry and until > now

        await wait_until(renewed_past_first_expiry, within_s=10)
        assert await other.recover(idle_s=0) == 0
        gate.set()
        stored, _ = await placing
    assert stored.booking.status is BookingStatus.CONFIRMED
    assert downstreams.facilities.calls["reserve"] == 1


async def test_the_lease_of_a_driver_that_died_runs_out_and_recovery_resumes(
    service_for, downstreams, wait_until
):
    booking = new_booking()
    async with service_for() as service:
        url = service.settings.database_url
        await service.place("lease-3", booking, budget_s=0)
        # A driver elsewhere took the saga and died: its lease is still running.
        _sql(
            url,
            "UPDATE bookings SET lease_owner = :owner, "
            "lease_until = now() + interval '500 milliseconds' WHERE id = :id",
            owner=uuid.uuid4(),
            id=booking.id,
        )
        assert await service.recover(idle_s=0) == 0
        assert downstreams.facilities.calls["reserve"] == 0

        async def resumed() -> bool:
            await service.recover(idle_s=0)
            return (await service.get(booking.id)).booking.status is BookingStatus.CONFIRMED

        await wait_until(resumed, within_s=10)
    assert downstreams.facilities.calls["reserve"] == 1
    owner, until, _ = _lease(url, booking.id)
    assert (owner, until) == (None, None)
