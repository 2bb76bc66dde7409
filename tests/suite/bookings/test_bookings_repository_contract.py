"""One contract, two repositories: the same tests hold `SqlBookingRepository` (on PostgreSQL)
and the in-memory `FakeBookingRepository` to the promises the saga is built on, so that what
the service-layer tests show with the fake holds on the database. A lease with a term below
zero has run out already: that is how a driver that died is stood for without waiting."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from fakes import FakeUnitOfWork

from system_under_test.bookings.app import MIGRATIONS
from system_under_test.bookings.domain import (
    Action,
    Booking,
    BookingStatus,
    EntryStatus,
    LogEntry,
    Step,
)
from system_under_test.bookings.orm import metadata
from system_under_test.bookings.repository import SqlBookingRepository
from system_under_test.common.db import Database
from system_under_test.common.uow import SqlUnitOfWork

from .fakes import FakeBookingRepository

LIVE, RUN_OUT = 30.0, -1.0
RESERVE = LogEntry(Step.RESERVE, Action.DO, EntryStatus.STARTED)
RESERVED = LogEntry(Step.RESERVE, Action.DO, EntryStatus.SUCCEEDED, "ok")
CHARGE = LogEntry(Step.CHARGE, Action.DO, EntryStatus.STARTED)


@pytest.fixture(
    params=[
        pytest.param("memory", marks=pytest.mark.unit),
        pytest.param("postgresql", marks=pytest.mark.integration),
    ]
)
async def uow(request) -> AsyncIterator[Any]:
    if request.param == "memory":
        yield FakeUnitOfWork(FakeBookingRepository())
        return
    db = Database(request.getfixturevalue("database_url"), metadata, MIGRATIONS)
    await db.start()
    try:
        yield SqlUnitOfWork(db, SqlBookingRepository)
    finally:
        await db.stop()


def new_booking() -> Booking:
    start = datetime(2034, 1, 1, 10, tzinfo=UTC)
    return Booking.create(
        user_id=uuid.uuid4(),
        facility_id=uuid.uuid4(),
        starts_at=start,
        ends_at=start + timedelta(hours=1),
        amount_cents=100,
        payment_method="pm_card_visa",
    )


async def call(uow: Any, method: str, *args: Any, **kwargs: Any) -> Any:
    """One repository method as one statement, as the saga makes each of its writes."""
    async with uow.statement() as tx:
        return await getattr(tx.repo, method)(*args, **kwargs)


async def created(uow: Any, owner: uuid.UUID, lease_s: float = LIVE) -> Booking:
    booking = new_booking()
    key = uuid.uuid4().hex
    assert await call(uow, "create", key, booking, "fp", owner, lease_s, [RESERVE])
    return booking


async def test_a_key_is_claimed_once_with_its_booking_and_first_entries(uow):
    booking, other = new_booking(), new_booking()
    leased = await call(uow, "create", "key-1", booking, "fp-1", uuid.uuid4(), LIVE, [RESERVE])
    assert leased.stored.booking == booking and not leased.stored.settled
    assert await call(uow, "create", "key-1", other, "fp-2", uuid.uuid4(), LIVE, [RESERVE]) is None
    assert await call(uow, "get", other.id) is None
    stored_key = await call(uow, "get_key", "key-1")
    assert (stored_key.booking_id, stored_key.fingerprint) == (booking.id, "fp-1")
    (entry,) = await call(uow, "read_log", booking.id)
    assert entry == RESERVE and entry.at is not None


async def test_a_live_lease_fences_off_every_other_driver(uow):
    holder, intruder = uuid.uuid4(), uuid.uuid4()
    booking = await created(uow, holder)
    assert await call(uow, "take_lease", booking.id, intruder, LIVE) is None
    assert await call(uow, "renew_lease", booking.id, intruder, LIVE) is None
    assert await call(uow, "append_fenced", booking.id, intruder, LIVE, 2, [RESERVED]) is None
    assert await call(uow, "settle", booking.id, intruder, BookingStatus.CONFIRMED, None) is None
    await call(uow, "release_lease", booking.id, intruder)
    assert await call(uow, "take_lease", booking.id, intruder, LIVE) is None  # still the holder's
    assert await call(uow, "read_log", booking.id) == [RESERVE]

    written = await call(uow, "append_fenced", booking.id, holder, LIVE, 2, [RESERVED, CHARGE])
    assert written == [RESERVED, CHARGE] and all(e.at is not None for e in written)
    assert await call(uow, "read_log", booking.id) == [RESERVE, RESERVED, CHARGE]
    assert await call(uow, "renew_lease", booking.id, holder, LIVE) is not None


async def test_a_run_out_lease_is_taken_over_and_its_old_holder_writes_nothing(uow):
    dead, successor = uuid.uuid4(), uuid.uuid4()
    booking = await created(uow, dead, lease_s=RUN_OUT)
    leased = await call(uow, "take_lease", booking.id, successor, LIVE)
    assert leased is not None and leased.stored.booking.id == booking.id
    assert await call(uow, "append_fenced", booking.id, dead, LIVE, 2, [RESERVED]) is None
    assert await call(uow, "renew_lease", booking.id, dead, LIVE) is None
    assert await call(uow, "settle", booking.id, dead, BookingStatus.CONFIRMED, None) is None
    assert await call(uow, "read_log", booking.id) == [RESERVE]


async def test_settling_ends_the_lease_and_only_a_cancellation_reopens_the_saga(uow):
    owner, later = uuid.uuid4(), uuid.uuid4()
    booking = await created(uow, owner)
    done = await call(uow, "settle", booking.id, owner, BookingStatus.CONFIRMED, None)
    assert done.settled and done.booking.status is BookingStatus.CONFIRMED
    assert await call(uow, "settle", booking.id, owner, BookingStatus.CANCELLED, None) is None
    assert await call(uow, "take_lease", booking.id, later, LIVE) is None
    reopened = await call(uow, "take_lease", booking.id, later, LIVE, reopen=True)
    assert reopened is not None and not reopened.stored.settled
    assert reopened.stored.booking.status is BookingStatus.CONFIRMED


async def test_a_released_lease_is_free_at_once(uow):
    owner, next_driver = uuid.uuid4(), uuid.uuid4()
    booking = await created(uow, owner)
    await call(uow, "release_lease", booking.id, owner)
    assert await call(uow, "take_lease", booking.id, next_driver, LIVE) is not None


async def test_recovery_sees_the_unsettled_sagas_no_live_driver_holds(uow):
    live = await created(uow, uuid.uuid4())
    dead = await created(uow, uuid.uuid4(), lease_s=RUN_OUT)
    free_owner = uuid.uuid4()
    free = await created(uow, free_owner)
    await call(uow, "release_lease", free.id, free_owner)
    settled_owner = uuid.uuid4()
    settled = await created(uow, settled_owner)
    await call(uow, "settle", settled.id, settled_owner, BookingStatus.REJECTED, "slot_unavailable")

    found = set(await call(uow, "unsettled_ids", 0.0))
    assert {dead.id, free.id} <= found
    assert not {live.id, settled.id} & found
    assert not {dead.id, free.id} & set(await call(uow, "unsettled_ids", 3600.0))


async def test_a_cancellation_is_logged_in_the_transaction_that_took_the_lease(uow):
    owner, canceller = uuid.uuid4(), uuid.uuid4()
    booking = await created(uow, owner)
    await call(uow, "settle", booking.id, owner, BookingStatus.CONFIRMED, None)
    cancel = LogEntry(Step.CANCEL, Action.DO, EntryStatus.SUCCEEDED, "requested")
    with pytest.raises(RuntimeError):
        async with uow.transaction() as tx:
            assert await tx.repo.take_lease(booking.id, canceller, LIVE, reopen=True)
            await tx.repo.append_log(booking.id, cancel)
            raise RuntimeError("the request died before its commit")
    assert (await call(uow, "get", booking.id)).settled  # all of it rolled back
    async with uow.transaction() as tx:
        assert await tx.repo.take_lease(booking.id, canceller, LIVE, reopen=True)
        await tx.repo.append_log(booking.id, cancel)
    assert (await call(uow, "read_log", booking.id))[-1] == cancel
