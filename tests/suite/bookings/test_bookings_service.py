"""The booking saga's service layer without a database: `BookingService` on the in-memory unit
of work, with facilities and payments as their own service layers in-process. Each
`saga.service()` is a separate BookingService, as a separate process would build it; they
share the one "database" (the fake repository) and the downstreams.

The same rules on PostgreSQL, with real HTTP, crashes and leases: test_bookings_saga.py,
test_bookings_leases.py, test_bookings_concurrency.py."""

from __future__ import annotations

import asyncio
import itertools
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from conftest import eventually
from fakes import FakeUnitOfWork

from system_under_test.bookings.domain import (
    Action,
    Booking,
    BookingStatus,
    CannotCancel,
    EntryStatus,
    Reason,
    Step,
)
from system_under_test.bookings.service import (
    BookingNotFound,
    BookingService,
    IdempotencyKeyReused,
)
from system_under_test.bookings.settings import BookingsSettings

from .fakes import FakeBookingRepository, InProcessFacilities, InProcessPayments

pytestmark = pytest.mark.unit

LEASE_S = 30.0  # long: no driver renews its lease during a test unless the test says so
DECLINED = "pm_card_chargeDeclined"
_DAYS = itertools.count()
FIRST_DAY = datetime(2033, 1, 1, 10, tzinfo=UTC)


class Crash(BaseException):
    """Stands for the process dying: nothing after it runs."""


class Saga:
    def __init__(self) -> None:
        self.repo = FakeBookingRepository()
        self.uow = FakeUnitOfWork(self.repo)
        self.facilities = InProcessFacilities()
        self.payments = InProcessPayments()
        self.facility_id = self.facilities.add_facility()

    def settings(self, **overrides: Any) -> BookingsSettings:
        values: dict[str, Any] = {
            "saga_retry_backoff_s": 0.01,
            "saga_retry_cap_s": 0.05,
            "saga_lease_s": LEASE_S,
            "log_level": "WARNING",
            **overrides,
        }
        return BookingsSettings(**values)

    def service(self, payments: Any = None, **overrides: Any) -> BookingService:
        """A bookings process: its own in-process locks, the shared database."""
        payments = payments or self.payments
        return BookingService(self.uow, self.facilities, payments, self.settings(**overrides))

    def booking(self, *, slot_of: Booking | None = None, **overrides: Any) -> Booking:
        """A booking of a day no other has, or of the slot of `slot_of`."""
        start = slot_of.starts_at if slot_of else FIRST_DAY + timedelta(days=next(_DAYS))
        fields: dict[str, Any] = {
            "user_id": uuid.uuid4(),
            "facility_id": self.facility_id,
            "starts_at": start,
            "ends_at": start + timedelta(hours=2),
            "amount_cents": 25000,
            "payment_method": "pm_card_visa",
            **overrides,
        }
        return Booking.create(**fields)

    def calls(self, booking_id: uuid.UUID) -> list[str]:
        """The calls whose outcome the saga logged, by the downstream's name for them."""
        names = {
            (Step.RESERVE, Action.DO): "reserve",
            (Step.CHARGE, Action.DO): "charge",
            (Step.CONFIRM, Action.DO): "confirm",
            (Step.RESERVE, Action.COMPENSATE): "release",
            (Step.CHARGE, Action.COMPENSATE): "refund",
        }
        return [
            f"{names[(e.step, e.action)]}:{e.detail}"
            for e in self.repo.logs[booking_id]
            if e.status is not EntryStatus.STARTED and e.step is not Step.CANCEL
        ]

    def events(self, booking_id: uuid.UUID) -> list[str]:
        return [e["type"] for e in self.uow.published if e["data"]["booking_id"] == str(booking_id)]

    def lease_of(self, booking_id: uuid.UUID) -> uuid.UUID | None:
        return self.repo.rows[booking_id].lease_owner


@pytest.fixture
def saga() -> Saga:
    return Saga()


async def test_a_booking_is_reserved_charged_and_confirmed_with_one_event(saga):
    booking = saga.booking()
    stored, created = await saga.service().place("k1", booking)
    assert created and stored.settled
    assert stored.booking.status is BookingStatus.CONFIRMED
    assert saga.calls(booking.id) == ["reserve:ok", "charge:ok", "confirm:ok"]
    assert saga.facilities.status_of(booking) == "confirmed"
    assert saga.payments.status_of(booking) == "captured"
    assert saga.events(booking.id) == ["booking.confirmed"]
    assert saga.lease_of(booking.id) is None


async def test_a_taken_slot_rejects_the_booking_and_charges_nothing(saga):
    first = saga.booking()
    await saga.service().place("k1", first)
    clash = saga.booking(slot_of=first)
    stored, _ = await saga.service().place("k2", clash)
    assert (stored.booking.status, stored.booking.reason) == (
        BookingStatus.REJECTED,
        Reason.SLOT_UNAVAILABLE,
    )
    assert saga.calls(clash.id) == ["reserve:conflict"]
    assert saga.payments.status_of(clash) is None
    assert saga.events(clash.id) == ["booking.rejected"]


async def test_a_declined_card_releases_the_slot_and_cancels(saga):
    booking = saga.booking(payment_method=DECLINED)
    stored, _ = await saga.service().place("k1", booking)
    assert (stored.booking.status, stored.booking.reason) == (
        BookingStatus.CANCELLED,
        Reason.PAYMENT_DECLINED,
    )
    assert saga.calls(booking.id) == ["reserve:ok", "charge:declined", "release:ok"]
    assert saga.facilities.status_of(booking) == "released"
    assert saga.payments.status_of(booking) == "declined"
    assert saga.events(booking.id) == ["booking.cancelled"]


async def test_a_charge_that_went_through_unanswered_is_refunded_before_the_release(saga):
    booking = saga.booking()
    saga.payments.fail("charge", "late")
    stored, _ = await saga.service().place("k1", booking)
    assert (stored.booking.status, stored.booking.reason) == (
        BookingStatus.CANCELLED,
        Reason.PAYMENT_UNAVAILABLE,
    )
    assert saga.calls(booking.id) == ["reserve:ok", "charge:timeout", "refund:ok", "release:ok"]
    assert saga.payments.status_of(booking) == "refunded"  # the money went back
    assert saga.facilities.status_of(booking) == "released"


async def test_past_the_charge_a_failing_confirm_is_retried_forward_never_undone(saga):
    booking = saga.booking()
    saga.facilities.fail("confirm", "unavailable", "timeout")
    stored, _ = await saga.service().place("k1", booking)
    assert stored.booking.status is BookingStatus.CONFIRMED
    assert saga.calls(booking.id) == [
        "reserve:ok",
        "charge:ok",
        "confirm:unavailable",
        "confirm:timeout",
        "confirm:ok",
    ]
    assert saga.payments.calls["refund"] == saga.facilities.calls["release"] == 0


async def test_with_compensation_switched_off_a_decline_leaves_the_slot_held(saga):
    booking = saga.booking(payment_method=DECLINED)
    stored, _ = await saga.service(compensation=False).place("k1", booking)
    assert stored.booking.status is BookingStatus.CANCELLED
    assert saga.facilities.status_of(booking) == "held"


async def test_a_replayed_key_answers_the_same_booking_and_a_reused_one_is_refused(saga):
    service = saga.service()
    booking = saga.booking()
    first, created = await service.place("k1", booking)
    again, created_again = await service.place("k1", booking)
    assert created and not created_again
    assert again.booking == first.booking
    assert saga.facilities.calls["reserve"] == 1

    other = saga.booking()
    with pytest.raises(IdempotencyKeyReused):
        await service.place("k1", other)
    assert other.id not in saga.repo.rows
    assert saga.facilities.calls["reserve"] == 1


async def test_cancelling_a_confirmed_booking_refunds_and_releases_once(saga):
    booking = saga.booking()
    service = saga.service()
    await service.place("k1", booking)
    cancelled = await service.cancel(booking.id)
    assert (cancelled.booking.status, cancelled.booking.reason) == (
        BookingStatus.CANCELLED,
        Reason.CANCELLED_BY_CUSTOMER,
    )
    assert saga.calls(booking.id)[-2:] == ["refund:ok", "release:ok"]
    assert saga.payments.status_of(booking) == "refunded"
    assert saga.facilities.status_of(booking) == "released"
    again = await service.cancel(booking.id)
    assert again.booking == cancelled.booking
    assert saga.payments.calls["refund"] == 1
    assert saga.events(booking.id) == ["booking.confirmed", "booking.cancelled"]


async def test_only_a_confirmed_booking_can_be_cancelled(saga):
    service = saga.service()
    rejected = saga.booking()
    saga.facilities.fail("reserve", "unavailable")
    await service.place("k1", rejected)
    with pytest.raises(CannotCancel):
        await service.cancel(rejected.id)
    with pytest.raises(BookingNotFound):
        await service.cancel(uuid.uuid4())
    assert saga.events(rejected.id) == ["booking.rejected"]


async def test_a_saga_whose_driver_crashed_mid_call_is_resumed_by_another_process(saga):
    booking = saga.booking()
    saga.payments.fail("charge", Crash())  # the charge went through; its driver died
    with pytest.raises(Crash):
        await saga.service().place("k1", booking)
    log = saga.repo.logs[booking.id]
    assert (log[-1].step, log[-1].status) == (Step.CHARGE, EntryStatus.STARTED)
    assert not saga.repo.rows[booking.id].settled

    restarted = saga.service()
    assert await restarted.recover(idle_s=0) == 1
    stored = await restarted.get(booking.id)
    assert stored.booking.status is BookingStatus.CONFIRMED and stored.settled
    # The charge was made again, and payments recognised it as the same one.
    assert saga.payments.calls["charge"] == 2
    assert saga.payments.repo.attempted == [(booking.id, "captured")]
    assert saga.events(booking.id) == ["booking.confirmed"]


async def test_the_status_and_its_event_commit_together_or_not_at_all(saga):
    booking = saga.booking()
    service = saga.service()
    saga.uow.fail_next_emit = Crash()
    with pytest.raises(Crash):
        await service.place("k1", booking)
    stored = await service.get(booking.id)
    assert stored.booking.status is BookingStatus.PENDING and not stored.settled
    assert saga.events(booking.id) == []

    await service.recover(idle_s=0)
    assert (await service.get(booking.id)).booking.status is BookingStatus.CONFIRMED
    assert saga.events(booking.id) == ["booking.confirmed"]
    assert saga.facilities.calls["confirm"] == 1


async def test_recovery_leaves_a_leased_saga_alone_until_the_lease_runs_out(saga):
    booking = saga.booking()
    service = saga.service()
    await service.place("k1", booking, budget_s=0)  # persisted, no step taken
    # A driver in another process took the saga and died: its lease is still running.
    assert await saga.repo.take_lease(booking.id, uuid.uuid4(), LEASE_S)
    assert await service.recover(idle_s=0) == 0
    assert saga.facilities.calls["reserve"] == 0

    saga.repo.advance(LEASE_S + 1)
    assert await service.recover(idle_s=0) == 1
    assert (await service.get(booking.id)).booking.status is BookingStatus.CONFIRMED
    assert saga.lease_of(booking.id) is None


async def test_recovery_leaves_recently_active_sagas_to_their_driver(saga):
    booking = saga.booking()
    service = saga.service()
    await service.place("k1", booking, budget_s=0)
    assert await service.recover(idle_s=60) == 0
    saga.repo.advance(61)
    assert await service.recover(idle_s=60) == 1
    assert (await service.get(booking.id)).booking.status is BookingStatus.CONFIRMED


class TakenOverDuringCharge:
    """Payments whose charge stalls until the driver's lease has run out and another process
    has taken the saga over and finished it; then the stalled charge answers."""

    def __init__(self, saga: Saga, other: BookingService) -> None:
        self.saga, self.other = saga, other
        self.taken_over_to: BookingStatus | None = None

    def __getattr__(self, name: str) -> Any:
        return getattr(self.saga.payments, name)

    async def charge(self, booking: Booking) -> Any:
        self.saga.repo.advance(LEASE_S + 1)
        self.taken_over_to = (await self.other.advance(booking.id)).booking.status
        return await self.saga.payments.charge(booking)


async def test_a_driver_whose_lease_was_taken_over_stops_and_writes_nothing(saga):
    booking = saga.booking()
    stalled = TakenOverDuringCharge(saga, saga.service())
    stored, created = await saga.service(payments=stalled).place("k1", booking)
    assert created and stalled.taken_over_to is BookingStatus.CONFIRMED
    # The first driver's charge came back after the takeover: its outcome was not written,
    # and it answered with the booking as the other driver left it.
    assert stored.booking.status is BookingStatus.CONFIRMED
    assert saga.calls(booking.id) == ["reserve:ok", "charge:ok", "confirm:ok"]
    assert saga.payments.calls["charge"] == 2  # both drivers made it, idempotently
    assert saga.events(booking.id) == ["booking.confirmed"]


async def test_a_slow_call_renews_the_lease_so_no_second_driver_starts(saga):
    booking = saga.booking()
    gate = saga.facilities.gates["reserve"] = asyncio.Event()
    first = saga.service(saga_lease_s=0.3)
    placing = asyncio.create_task(first.place("k1", booking))
    await eventually(lambda: saga.facilities.calls["reserve"] == 1)
    first_expiry = saga.repo.rows[booking.id].lease_until
    assert first_expiry is not None

    def renewed_past_first_expiry() -> bool:
        until = saga.repo.rows[booking.id].lease_until
        return saga.repo.now() > first_expiry and until is not None and until > saga.repo.now()

    await eventually(renewed_past_first_expiry, within_s=10)
    assert await saga.service().recover(idle_s=0) == 0
    gate.set()
    stored, _ = await placing
    assert stored.booking.status is BookingStatus.CONFIRMED
    assert saga.facilities.calls["reserve"] == 1


async def test_of_dozens_of_bookings_for_one_slot_in_flight_one_is_confirmed(saga):
    slot = saga.booking()
    bookings = [saga.booking(slot_of=slot) for _ in range(30)]
    processes = [saga.service() for _ in range(3)]
    answers = await asyncio.gather(
        *(processes[i % 3].place(f"k{i}", b) for i, b in enumerate(bookings))
    )
    statuses = sorted(stored.booking.status.value for stored, _ in answers)
    assert statuses == ["confirmed"] + ["rejected"] * 29
    assert sum(1 for r in saga.facilities.repo.reservations.values() if r.occupies_slot) == 1
    assert len(saga.payments.repo.charges) == 1
    assert (
        sorted(e["type"] for e in saga.uow.published)
        == ["booking.confirmed"] + ["booking.rejected"] * 29
    )
    assert all(row.settled and row.lease_owner is None for row in saga.repo.rows.values())


async def test_dozens_of_replays_of_one_key_in_flight_run_one_saga(saga):
    booking = saga.booking()
    processes = [saga.service() for _ in range(3)]
    answers = await asyncio.gather(*(processes[i % 3].place("k1", booking) for i in range(30)))
    assert {stored.booking.id for stored, _ in answers} == {booking.id}
    assert [created for _, created in answers].count(True) == 1
    assert saga.facilities.calls["reserve"] == saga.payments.calls["charge"] == 1
    assert saga.events(booking.id) == ["booking.confirmed"]
