"""bookings without a database: its repository in memory, and facilities and payments as their
own service layers on in-memory repositories, answering the saga's calls in-process.

`FakeBookingRepository` keeps the promises of `BookingRepository` (docs/architecture.md, "One
driver per saga"): a key is claimed once, with its booking and first log entries; a lease is
taken only when free or run out; every write of a driver is fenced on its lease, and the
terminal status ends it. Its clock is the database's: `advance(s)` lets leases run out
without waiting. `test_bookings_repository_contract.py` holds it and the SQL repository to the
same behaviour.
"""

from __future__ import annotations

import uuid
from collections import Counter, defaultdict
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from typing import Any

from facilities.fakes import FakeFacilitiesRepository
from fakes import FakeUnitOfWork
from payments.fakes import FakePaymentsRepository

from system_under_test.bookings.clients import outcome_of
from system_under_test.bookings.domain import Booking, BookingStatus, LogEntry, Outcome
from system_under_test.bookings.repository import Leased, StoredBooking, StoredKey
from system_under_test.common.app import Problems
from system_under_test.facilities.api import PROBLEMS as FACILITIES_PROBLEMS
from system_under_test.facilities.domain import Facility, Slot
from system_under_test.facilities.service import FacilitiesService
from system_under_test.payments.api import PROBLEMS as PAYMENTS_PROBLEMS
from system_under_test.payments.service import PaymentsService


@dataclass
class _Row:
    booking: Booking
    settled: bool
    created_at: datetime
    updated_at: datetime
    lease_owner: uuid.UUID | None = None
    lease_until: datetime | None = None

    def stored(self) -> StoredBooking:
        return StoredBooking(self.booking, self.settled, self.created_at, self.updated_at)


class FakeBookingRepository:
    def __init__(self) -> None:
        self.rows: dict[uuid.UUID, _Row] = {}
        self.logs: dict[uuid.UUID, list[LogEntry]] = {}
        self.keys: dict[str, StoredKey] = {}
        self.skew = timedelta(0)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.skew

    def advance(self, seconds: float) -> None:
        """The database's clock moves on (leases run out) without the test waiting."""
        self.skew += timedelta(seconds=seconds)

    def _free(self, row: _Row) -> bool:
        return row.lease_owner is None or (
            row.lease_until is not None and row.lease_until < self.now()
        )

    def _holds(self, booking_id: uuid.UUID, owner: uuid.UUID) -> _Row | None:
        row = self.rows.get(booking_id)
        return row if row is not None and row.lease_owner == owner else None

    def _stamped(self, entries: Sequence[LogEntry], now: datetime) -> list[LogEntry]:
        return [replace(e, at=now) for e in entries]

    async def get(self, booking_id: uuid.UUID, *, for_update: bool = False) -> StoredBooking | None:
        row = self.rows.get(booking_id)
        return row.stored() if row else None

    async def list_(
        self, status: BookingStatus | None = None, limit: int = 1000
    ) -> list[StoredBooking]:
        rows = sorted(self.rows.values(), key=lambda r: (r.created_at, str(r.booking.id)))
        return [r.stored() for r in rows if status is None or r.booking.status is status][:limit]

    async def unsettled_ids(self, idle_s: float) -> list[uuid.UUID]:
        quiet_since = self.now() - timedelta(seconds=idle_s)
        rows = [
            r
            for r in self.rows.values()
            if not r.settled and r.updated_at <= quiet_since and self._free(r)
        ]
        return [r.booking.id for r in sorted(rows, key=lambda r: r.updated_at)]

    async def read_log(self, booking_id: uuid.UUID) -> list[LogEntry]:
        return list(self.logs.get(booking_id, []))

    async def append_log(self, booking_id: uuid.UUID, entry: LogEntry) -> None:
        now = self.now()
        self.logs[booking_id].extend(self._stamped([entry], now))
        self.rows[booking_id].updated_at = now

    async def get_key(self, key: str) -> StoredKey | None:
        return self.keys.get(key)

    async def create(
        self,
        key: str,
        booking: Booking,
        fingerprint: str,
        owner: uuid.UUID,
        lease_s: float,
        entries: Sequence[LogEntry],
    ) -> Leased | None:
        if key in self.keys:
            return None
        if booking.id in self.rows:
            raise ValueError(f"booking {booking.id} exists (a primary key violation)")
        now = self.now()
        self.keys[key] = StoredKey(booking.id, fingerprint)
        row = _Row(booking, False, now, now, owner, now + timedelta(seconds=lease_s))
        self.rows[booking.id] = row
        self.logs[booking.id] = self._stamped(entries, now)
        return Leased(row.stored(), now)

    async def append_fenced(
        self,
        booking_id: uuid.UUID,
        owner: uuid.UUID,
        lease_s: float,
        first_seq: int,
        entries: Sequence[LogEntry],
    ) -> list[LogEntry] | None:
        row = self._holds(booking_id, owner)
        if row is None:
            return None
        log = self.logs[booking_id]
        if first_seq != len(log) + 1:
            raise ValueError(f"log entry {first_seq} of {booking_id} exists (a key violation)")
        now = self.now()
        row.updated_at, row.lease_until = now, now + timedelta(seconds=lease_s)
        written = self._stamped(entries, now)
        log.extend(written)
        return written

    async def take_lease(
        self, booking_id: uuid.UUID, owner: uuid.UUID, lease_s: float, *, reopen: bool = False
    ) -> Leased | None:
        row = self.rows.get(booking_id)
        if row is None or not self._free(row) or (row.settled and not reopen):
            return None
        now = self.now()
        if reopen:
            row.settled, row.updated_at = False, now
        row.lease_owner, row.lease_until = owner, now + timedelta(seconds=lease_s)
        return Leased(row.stored(), now)

    async def renew_lease(
        self, booking_id: uuid.UUID, owner: uuid.UUID, lease_s: float
    ) -> datetime | None:
        row = self._holds(booking_id, owner)
        if row is None:
            return None
        now = self.now()
        row.lease_until = now + timedelta(seconds=lease_s)
        return now

    async def release_lease(self, booking_id: uuid.UUID, owner: uuid.UUID) -> None:
        row = self._holds(booking_id, owner)
        if row is not None:
            row.lease_owner = row.lease_until = None

    async def settle(
        self,
        booking_id: uuid.UUID,
        owner: uuid.UUID,
        status: BookingStatus,
        reason: str | None,
    ) -> StoredBooking | None:
        row = self._holds(booking_id, owner)
        if row is None or row.settled:
            return None
        row.booking = row.booking.finished(status, reason)
        row.settled, row.updated_at = True, self.now()
        row.lease_owner = row.lease_until = None
        return row.stored()


# -- facilities and payments, in-process ------------------------------------------------------


def _status_of(error: Exception, problems: Problems) -> int:
    """The HTTP status the downstream's API answers `error` with."""
    for cls in type(error).__mro__:
        if cls in problems:
            return problems[cls][0]
    raise error


@dataclass
class InProcess:
    """A downstream's service layer called as bookings' HTTP client calls it: each answer is
    the Outcome that client makes of the status code the downstream's API would send.

    `fail(call, *faults)` scripts the next calls: "unavailable" (no effect, the call is
    refused), "timeout" (no effect, no answer), "late" (the effect happens, the answer does
    not: the ambiguous timeout), or an exception to raise after the effect (a crash of the
    caller once its call went through). A call with a gate waits until the test opens it.
    """

    problems: Problems
    calls: Counter[str] = field(default_factory=Counter)
    faults: dict[str, list[Any]] = field(default_factory=lambda: defaultdict(list))
    gates: dict[str, Any] = field(default_factory=dict)

    def fail(self, call: str, *faults: Any) -> None:
        self.faults[call].extend(faults)

    async def answer(
        self,
        call: str,
        effect: Callable[[], Awaitable[Any]],
        not_found: Outcome = Outcome.NOT_FOUND,
    ) -> Outcome:
        self.calls[call] += 1
        queued = self.faults.get(call)
        fault = queued.pop(0) if queued else None
        if fault == "unavailable":
            return Outcome.UNAVAILABLE
        if fault == "timeout":
            return Outcome.TIMEOUT
        if call in self.gates:
            await self.gates[call].wait()
        try:
            await effect()
            status = 200
        except Exception as error:
            status = _status_of(error, self.problems)
        if isinstance(fault, BaseException):
            raise fault
        return Outcome.TIMEOUT if fault == "late" else outcome_of(status, not_found)


class InProcessFacilities(InProcess):
    def __init__(self) -> None:
        super().__init__(FACILITIES_PROBLEMS)
        self.repo = FakeFacilitiesRepository()
        self.service = FacilitiesService(FakeUnitOfWork(self.repo))

    def add_facility(self, facility_id: uuid.UUID | None = None) -> uuid.UUID:
        facility = Facility(facility_id or uuid.uuid4(), "Chapel of Rest", 80)
        self.repo.facilities[facility.id] = facility
        return facility.id

    def status_of(self, booking: Booking) -> str | None:
        reservation = self.repo.reservations.get(booking.id)
        return reservation.status.value if reservation else None

    async def reserve(self, booking: Booking) -> Outcome:
        slot = Slot(booking.starts_at, booking.ends_at)
        return await self.answer(
            "reserve", lambda: self.service.reserve(booking.id, booking.facility_id, slot)
        )

    async def confirm(self, booking: Booking) -> Outcome:
        return await self.answer("confirm", lambda: self.service.confirm(booking.id))

    async def release(self, booking: Booking) -> Outcome:
        return await self.answer(
            "release", lambda: self.service.release(booking.id), not_found=Outcome.OK
        )


class InProcessPayments(InProcess):
    def __init__(self) -> None:
        super().__init__(PAYMENTS_PROBLEMS)
        self.repo = FakePaymentsRepository()
        self.service = PaymentsService(FakeUnitOfWork(self.repo))

    def status_of(self, booking: Booking) -> str | None:
        charge = self.repo.charges.get(booking.id)
        return charge.status.value if charge else None

    async def charge(self, booking: Booking) -> Outcome:
        return await self.answer(
            "charge",
            lambda: self.service.charge(booking.id, booking.amount_cents, booking.payment_method),
        )

    async def refund(self, booking: Booking) -> Outcome:
        return await self.answer(
            "refund", lambda: self.service.refund(booking.id), not_found=Outcome.OK
        )
