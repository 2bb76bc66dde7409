"""Use cases of bookings: place a booking, drive its saga, cancel it, recover after a crash.

Each saga call is logged `started` before it is made and `succeeded`/`failed` after, so a
process killed at any point leaves a log that `domain.decide` resumes from. A call's outcome
and the start of the call that follows are one write; the booking, its key and the first
`started` entry are another. Each write is one short statement: no database connection is
held while a call to another service is in flight.

One driver per saga: a lease in the bookings row (owner, expiry) taken and renewed in those
short writes, every log write fenced on it, so a driver that lost it stops instead of racing
the one that took over; the lease of a process that died runs out and the recovery loop takes
the saga on. In one process, a per-booking asyncio lock queues a second request before it
reaches the database.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Protocol, TypeVar

from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_exponential

from system_under_test.common import tracing
from system_under_test.common.events import make_event
from system_under_test.common.uow import UnitOfWork

from .domain import (
    CANCEL_REQUEST,
    Action,
    Booking,
    BookingStatus,
    Call,
    EntryStatus,
    Finish,
    LogEntry,
    Outcome,
    Step,
    backoff_s,
    decide,
)
from .locks import KeyedLocks
from .metrics import COMPENSATIONS, SAGA_DURATION, SAGA_OUTCOMES
from .repository import BookingRepository, StoredBooking
from .settings import BookingsSettings

log = logging.getLogger(__name__)
T = TypeVar("T")
RELEASE_TIMEOUT_S = 1.0


class Facilities(Protocol):
    async def reserve(self, booking: Booking) -> Outcome: ...
    async def confirm(self, booking: Booking) -> Outcome: ...
    async def release(self, booking: Booking) -> Outcome: ...


class Payments(Protocol):
    async def charge(self, booking: Booking) -> Outcome: ...
    async def refund(self, booking: Booking) -> Outcome: ...


class BookingNotFound(LookupError):
    def __init__(self, booking_id: uuid.UUID) -> None:
        super().__init__(f"no booking {booking_id}")
        self.booking_id = booking_id


class IdempotencyKeyReused(ValueError):
    """The key was used before for a different request."""

    def __init__(self, key: str) -> None:
        super().__init__("this Idempotency-Key was already used for a different booking request")
        self.key = key


COMPENSATION_NAMES = {Step.RESERVE: "release", Step.CHARGE: "refund"}


class BookingService:
    def __init__(
        self,
        uow: UnitOfWork[BookingRepository],
        facilities: Facilities,
        payments: Payments,
        settings: BookingsSettings,
    ) -> None:
        self.uow = uow
        self.facilities = facilities
        self.payments = payments
        self.settings = settings
        self._drivers = KeyedLocks()

    # -- queries (one statement each, so no BEGIN and COMMIT around it) ----------------------

    async def get(self, booking_id: uuid.UUID) -> StoredBooking:
        async with self.uow.statement() as tx:
            stored = await tx.repo.get(booking_id)
        if stored is None:
            raise BookingNotFound(booking_id)
        return stored

    async def list_bookings(
        self, status: BookingStatus | None = None, limit: int = 1000
    ) -> list[StoredBooking]:
        async with self.uow.statement() as tx:
            return await tx.repo.list_(status, limit)

    async def saga_log(self, booking_id: uuid.UUID) -> list[LogEntry]:
        async with self.uow.statement() as tx:
            return await tx.repo.read_log(booking_id)

    # -- commands ----------------------------------------------------------------------------

    async def place(
        self, key: str, booking: Booking, budget_s: float | None = None
    ) -> tuple[StoredBooking, bool]:
        """Persist the booking under its idempotency key, then drive the saga up to the budget.

        Returns the booking and whether this request created it (False: a replay, answered
        once the request that drives it has finished, or at the budget).
        """
        deadline = self._deadline(budget_s)
        tracing.tag(booking_id=str(booking.id))  # how a booking's trace is found
        fingerprint = booking.fingerprint()
        owner = uuid.uuid4()
        first = decide([], compensation=self.settings.compensation)
        # The first call's `started` entry goes in with the booking, unless no step may be
        # taken at all (a zero budget only persists the booking).
        begins = isinstance(first, Call) and time.monotonic() < deadline
        entries = [_started(first)] if begins else []
        # Held before the row exists, so a replay of this key waits here, not on the lease.
        async with self._drivers.hold(booking.id):
            async with self.uow.statement() as tx:
                leased = await tx.repo.create(
                    key, booking, fingerprint, owner, self.settings.saga_lease_s, entries
                )
                claimed = None if leased else await tx.repo.get_key(key)
            if leased is not None:
                drive = _Drive(leased.stored, owner, entries, leased.now, started_here=begins)
                return await self._drive(drive, deadline), True
        if claimed is None or claimed.fingerprint != fingerprint:
            raise IdempotencyKeyReused(key)
        return await self._advance(claimed.booking_id, deadline, wait=True), False

    async def cancel(self, booking_id: uuid.UUID, budget_s: float | None = None) -> StoredBooking:
        """Start (or continue) refunding and releasing a confirmed booking.

        Raises `CannotCancel` for a pending or rejected booking; a cancelled one is returned
        unchanged.
        """
        deadline = self._deadline(budget_s)
        owner = uuid.uuid4()
        async with self._drivers.hold(booking_id, deadline) as held:
            if not held:
                return await self.get(booking_id)
            async with self.uow.transaction() as tx:
                stored = await tx.repo.get(booking_id, for_update=True)
                if stored is None:
                    raise BookingNotFound(booking_id)
                if not stored.booking.check_cancellable():
                    return stored
                leased = await tx.repo.take_lease(
                    booking_id, owner, self.settings.saga_lease_s, reopen=True
                )
                if leased is None:  # another process is already at it
                    return stored
                entries = await tx.repo.read_log(booking_id)
                if not any(e.step is Step.CANCEL for e in entries):
                    await tx.repo.append_log(booking_id, CANCEL_REQUEST)
                    entries.append(CANCEL_REQUEST)
            return await self._drive(_Drive(leased.stored, owner, entries, leased.now), deadline)

    async def advance(self, booking_id: uuid.UUID, budget_s: float | None = None) -> StoredBooking:
        """Drive the saga until it is settled, a retry must wait past the budget, or another
        driver holds it; returns the booking as it then stands."""
        return await self._advance(booking_id, self._deadline(budget_s), wait=False)

    async def recover(self, idle_s: float | None = None) -> int:
        """Advance every saga with work left that has been quiet for `idle_s`; returns how many
        were looked at."""
        idle = self.settings.recovery_idle_s if idle_s is None else idle_s
        async with self.uow.transaction() as tx:
            ids = await tx.repo.unsettled_ids(idle)
        gate = asyncio.Semaphore(max(1, self.settings.recovery_concurrency))

        async def one(booking_id: uuid.UUID) -> None:
            async with gate:
                try:
                    await self.advance(booking_id)
                except Exception:
                    reraise_if_cancelled()
                    log.exception("recovery of booking %s failed", booking_id)

        await asyncio.gather(*(one(i) for i in ids))
        return len(ids)

    # -- driving a saga ----------------------------------------------------------------------

    def _deadline(self, budget_s: float | None) -> float:
        return time.monotonic() + (self.settings.saga_budget_s if budget_s is None else budget_s)

    async def _advance(
        self, booking_id: uuid.UUID, deadline: float, *, wait: bool
    ) -> StoredBooking:
        """Take the saga's lease and drive it. With `wait`, a driver at work in this process
        is waited for (up to the deadline), and then so is one elsewhere."""
        async with self._drivers.hold(booking_id, deadline if wait else None) as held:
            if not held:
                return await self.get(booking_id)
            owner = uuid.uuid4()
            drive = await self._take(booking_id, owner, deadline if wait else None)
            if isinstance(drive, _Drive):
                return await self._drive(drive, deadline)
            return drive

    async def _take(
        self, booking_id: uuid.UUID, owner: uuid.UUID, deadline: float | None
    ) -> _Drive | StoredBooking:
        """The saga leased to `owner` with its log, or the booking as it stands when it is
        settled or leased to a live driver (that one is waited for until `deadline`)."""
        retrying = AsyncRetrying(
            stop=stop_after_delay(max(0.0, deadline - time.monotonic()) if deadline else 0),
            wait=wait_exponential(multiplier=0.02, max=0.5),
            retry=retry_if_result(_driven_elsewhere),
            retry_error_callback=lambda state: state.outcome.result(),  # type: ignore[union-attr]
        )
        return await retrying(self._take_once, booking_id, owner)

    async def _take_once(self, booking_id: uuid.UUID, owner: uuid.UUID) -> _Drive | StoredBooking:
        async with self.uow.statement() as tx:
            leased = await tx.repo.take_lease(booking_id, owner, self.settings.saga_lease_s)
            if leased is None:
                stored = await tx.repo.get(booking_id)
                if stored is None:
                    raise BookingNotFound(booking_id)
                return stored
            entries = await tx.repo.read_log(booking_id)
        return _Drive(leased.stored, owner, entries, leased.now)

    async def _drive(self, drive: _Drive, deadline: float) -> StoredBooking:
        """Make the saga's calls until it finishes or the budget ends; the lease is renewed
        with each log write and while a call or a backoff lasts, and ended when this stops."""
        try:
            while True:
                decision = decide(drive.log, compensation=self.settings.compensation)
                if isinstance(decision, Finish):
                    return await self._finish(drive, decision)
                wait = self._wait_s(drive.stored.booking.id, decision, drive.log, drive.now())
                if time.monotonic() + wait > deadline:
                    await self._release(drive)
                    return drive.stored
                if wait > 0:
                    await self._holding(drive, asyncio.sleep(wait))
                if not drive.started_here:
                    await self._write(drive, [_started(decision)])
                await self._step(drive, decision, deadline)
        except LeaseLost:
            log.warning(
                "saga lease lost; another driver took over",
                extra={"fields": {"booking_id": str(drive.stored.booking.id)}},
            )
            return await self.get(drive.stored.booking.id)
        except BaseException:
            await self._release(drive)
            raise

    async def _step(self, drive: _Drive, call: Call, deadline: float) -> None:
        """Make `call` and log its outcome, together with the start of the next call when
        that one may follow at once (one write for both)."""
        booking = drive.stored.booking
        outcome = await self._holding(drive, self._operation(call)(booking))
        status = EntryStatus.SUCCEEDED if outcome is Outcome.OK else EntryStatus.FAILED
        entries = [LogEntry(call.step, call.action, status, outcome.value)]
        after = decide([*drive.log, *entries], compensation=self.settings.compensation)
        chained = isinstance(after, Call) and after.attempt <= 1 and time.monotonic() < deadline
        if chained:
            entries.append(_started(after))
        await self._write(drive, entries)
        drive.started_here = chained
        if call.is_compensation and outcome is Outcome.OK:
            COMPENSATIONS.labels(COMPENSATION_NAMES[call.step]).inc()
        log.info(
            "saga step",
            extra={
                "fields": {
                    "booking_id": str(booking.id),
                    "step": call.step.value,
                    "action": call.action.value,
                    "attempt": call.attempt,
                    "outcome": outcome.value,
                }
            },
        )

    async def _write(self, drive: _Drive, entries: list[LogEntry]) -> None:
        """Append to the log while the lease is ours (renewing it); else `LeaseLost`."""
        async with self.uow.statement() as tx:
            written = await tx.repo.append_fenced(
                drive.stored.booking.id,
                drive.owner,
                self.settings.saga_lease_s,
                len(drive.log) + 1,
                entries,
            )
        if written is None:
            raise LeaseLost
        drive.log.extend(written)
        drive.synced(written[-1].at)

    async def _holding(self, drive: _Drive, work: Awaitable[T]) -> T:
        """Await `work` (a call, a backoff) while renewing the lease every third of its term,
        so that a slow call does not hand the saga to a second driver."""
        task = asyncio.ensure_future(work)
        every = self.settings.saga_lease_s / 3
        try:
            while True:
                done, _ = await asyncio.wait({task}, timeout=every)
                if done:
                    return task.result()
                async with self.uow.statement() as tx:
                    now = await tx.repo.renew_lease(
                        drive.stored.booking.id, drive.owner, self.settings.saga_lease_s
                    )
                if now is None:
                    raise LeaseLost
                drive.synced(now)
        finally:
            if not task.done():
                task.cancel()
                with contextlib.suppress(BaseException):
                    await task

    async def _release(self, drive: _Drive) -> None:
        """End the lease so another driver need not wait for it to run out (best effort:
        when this fails the lease simply expires)."""
        try:
            async with asyncio.timeout(RELEASE_TIMEOUT_S), self.uow.statement() as tx:
                await tx.repo.release_lease(drive.stored.booking.id, drive.owner)
        except Exception:
            log.warning("could not end the saga lease of %s", drive.stored.booking.id)

    def _wait_s(
        self, booking_id: uuid.UUID, call: Call, entries: Sequence[LogEntry], now: datetime
    ) -> float:
        """How long until a repeated call may be made; measured from the last log entry so
        that the wait survives a restart and the recovery loop never sleeps needlessly."""
        if call.attempt <= 1 or not entries or entries[-1].at is None:
            return 0.0
        ceiling = backoff_s(
            call.attempt, self.settings.saga_retry_backoff_s, self.settings.saga_retry_cap_s
        )
        # Jitter that is stable per attempt, so each look at the log computes the same wait.
        jitter = random.Random(f"{booking_id}:{call.attempt}").uniform(0.5, 1.0)
        elapsed = (now - entries[-1].at).total_seconds()
        return max(0.0, ceiling * jitter - elapsed)

    def _operation(self, call: Call) -> Callable[[Booking], Awaitable[Outcome]]:
        table: dict[tuple[Step, Action], Callable[[Booking], Awaitable[Outcome]]] = {
            (Step.RESERVE, Action.DO): self.facilities.reserve,
            (Step.CHARGE, Action.DO): self.payments.charge,
            (Step.CONFIRM, Action.DO): self.facilities.confirm,
            (Step.RESERVE, Action.COMPENSATE): self.facilities.release,
            (Step.CHARGE, Action.COMPENSATE): self.payments.refund,
        }
        return table[(call.step, call.action)]

    async def _finish(self, drive: _Drive, finish: Finish) -> StoredBooking:
        """Terminal status and its event in one transaction (the outbox makes both or none);
        the lease ends with it."""
        booking_id = drive.stored.booking.id
        async with self.uow.transaction() as tx:
            done = await tx.repo.settle(booking_id, drive.owner, finish.status, finish.reason)
            if done is None:  # the lease was lost meanwhile
                return await self._reload(tx.repo, booking_id)
            await tx.emit(_event(done.booking))
        SAGA_OUTCOMES.labels(finish.status.value).inc()
        if drive.stored.booking.status is BookingStatus.PENDING:
            seconds = (done.updated_at - done.created_at).total_seconds()
            SAGA_DURATION.labels(finish.status.value).observe(seconds)
        log.info(
            "saga finished",
            extra={
                "fields": {
                    "booking_id": str(done.booking.id),
                    "status": finish.status.value,
                    "reason": finish.reason,
                }
            },
        )
        return done

    async def _reload(self, repo: BookingRepository, booking_id: uuid.UUID) -> StoredBooking:
        stored = await repo.get(booking_id)
        if stored is None:
            raise BookingNotFound(booking_id)
        return stored


class LeaseLost(Exception):
    """Another driver took the saga over (this one's lease ran out): stop, write nothing."""


@dataclass
class _Drive:
    """A saga this driver holds the lease of: the booking, the log so far, and the clock."""

    stored: StoredBooking
    owner: uuid.UUID
    log: list[LogEntry]
    db_now: datetime
    # The log ends with a `started` entry this driver wrote for the call it makes next.
    started_here: bool = False
    synced_at: float = field(default_factory=time.monotonic)

    def synced(self, db_now: datetime) -> None:
        self.db_now, self.synced_at = db_now, time.monotonic()

    def now(self) -> datetime:
        """The database's clock, from its last reading plus the time since."""
        return self.db_now + timedelta(seconds=time.monotonic() - self.synced_at)


def _driven_elsewhere(taken: _Drive | StoredBooking) -> bool:
    """Not leased to us, yet work is left: a live driver elsewhere holds the lease."""
    return isinstance(taken, StoredBooking) and not taken.settled


def _started(call: Call) -> LogEntry:
    return LogEntry(call.step, call.action, EntryStatus.STARTED)


def reraise_if_cancelled() -> None:
    """Re-raise a cancellation that surfaced as another exception.

    A task cancelled in the middle of a database call can see the cancellation replaced by a
    driver error; swallowing that would keep a loop running through shutdown.
    """
    task = asyncio.current_task()
    if task is not None and task.cancelling():
        raise asyncio.CancelledError


def _event(booking: Booking) -> dict:
    return make_event(
        f"booking.{booking.status.value}",
        {
            "booking_id": str(booking.id),
            "user_id": str(booking.user_id),
            "facility_id": str(booking.facility_id),
            "starts_at": booking.starts_at.isoformat(),
            "ends_at": booking.ends_at.isoformat(),
            "amount_cents": booking.amount_cents,
            "status": booking.status.value,
            "reason": booking.reason,
        },
    )
