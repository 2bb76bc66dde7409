"""Use cases of bookings: place a booking, drive its saga, cancel it, recover after a crash.

Each saga call is logged `started` before it is made and `succeeded`/`failed` after, each in
its own transaction, so a process killed at any point leaves a log that `domain.decide`
resumes from. A per-booking advisory lock keeps the request path and the recovery loop from
driving the same saga at once.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
import uuid
from collections.abc import Awaitable, Callable, Sequence
from datetime import datetime
from typing import Protocol

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncConnection

from system_under_test.common.db import Database
from system_under_test.common.events import make_event

from . import repository
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
from .metrics import COMPENSATIONS, SAGA_DURATION, SAGA_OUTCOMES
from .repository import StoredBooking
from .settings import BookingsSettings

log = logging.getLogger(__name__)


class Facilities(Protocol):
    async def reserve(self, booking: Booking) -> Outcome: ...
    async def confirm(self, booking: Booking) -> Outcome: ...
    async def release(self, booking: Booking) -> Outcome: ...


class Payments(Protocol):
    async def charge(self, booking: Booking) -> Outcome: ...
    async def refund(self, booking: Booking) -> Outcome: ...


class Publisher(Protocol):
    async def emit(self, conn: AsyncConnection, event: dict) -> None: ...


class BookingNotFound(LookupError):
    pass


class IdempotencyKeyReused(ValueError):
    """The key was used before for a different request."""


class _KeyRace(Exception):
    """A concurrent request claimed the same idempotency key first."""


COMPENSATION_NAMES = {Step.RESERVE: "release", Step.CHARGE: "refund"}


class BookingService:
    def __init__(
        self,
        db: Database,
        facilities: Facilities,
        payments: Payments,
        publisher: Publisher,
        settings: BookingsSettings,
    ) -> None:
        self.db = db
        self.facilities = facilities
        self.payments = payments
        self.publisher = publisher
        self.settings = settings

    # -- queries -----------------------------------------------------------------------------

    async def get(self, booking_id: uuid.UUID) -> StoredBooking:
        async with self.db.transaction() as conn:
            stored = await repository.get(conn, booking_id)
        if stored is None:
            raise BookingNotFound(str(booking_id))
        return stored

    async def list_bookings(
        self, status: BookingStatus | None = None, limit: int = 1000
    ) -> list[StoredBooking]:
        async with self.db.transaction() as conn:
            return await repository.list_(conn, status, limit)

    async def saga_log(self, booking_id: uuid.UUID) -> list[LogEntry]:
        async with self.db.transaction() as conn:
            return await repository.read_log(conn, booking_id)

    # -- commands ----------------------------------------------------------------------------

    async def place(
        self, key: str, booking: Booking, budget_s: float | None = None
    ) -> tuple[StoredBooking, bool]:
        """Persist the booking under its idempotency key, then drive the saga up to the budget.

        Returns the booking and whether this request created it (False: a replay).
        """
        fingerprint = booking.fingerprint()
        created = False
        for _ in range(3):
            try:
                async with self.db.transaction() as conn:
                    claimed = await repository.get_key(conn, key)
                    if claimed is None:
                        await repository.add(conn, booking)
                        if not await repository.claim_key(conn, key, booking.id, fingerprint):
                            raise _KeyRace
                        created = True
                break
            except _KeyRace:
                continue
        else:  # pragma: no cover - three lost races in a row means the key is being hammered
            raise IdempotencyKeyReused(key)
        if claimed is not None and claimed.fingerprint != fingerprint:
            raise IdempotencyKeyReused(key)
        booking_id = booking.id if created else claimed.booking_id  # type: ignore[union-attr]
        stored = await self.advance(booking_id, budget_s)
        return stored, created

    async def cancel(self, booking_id: uuid.UUID, budget_s: float | None = None) -> StoredBooking:
        """Start (or continue) refunding and releasing a confirmed booking.

        Raises `CannotCancel` for a pending or rejected booking; a cancelled one is returned
        unchanged.
        """
        async with self.db.transaction() as conn:
            stored = await repository.get(conn, booking_id, for_update=True)
            if stored is None:
                raise BookingNotFound(str(booking_id))
            if not stored.booking.check_cancellable():
                return stored
            entries = await repository.read_log(conn, booking_id)
            if not any(e.step is Step.CANCEL for e in entries):
                await repository.append_log(conn, booking_id, CANCEL_REQUEST)
                await repository.unsettle(conn, booking_id)
        return await self.advance(booking_id, budget_s)

    async def advance(self, booking_id: uuid.UUID, budget_s: float | None = None) -> StoredBooking:
        """Drive the saga until it is settled, a retry must wait past the budget, or another
        process is driving it; returns the booking as it then stands."""
        budget = self.settings.saga_budget_s if budget_s is None else budget_s
        deadline = time.monotonic() + budget
        async with repository.saga_lock(self.db.engine, booking_id) as locked:
            while True:
                async with self.db.transaction() as conn:
                    stored = await repository.get(conn, booking_id)
                    if stored is None:
                        raise BookingNotFound(str(booking_id))
                    entries = await repository.read_log(conn, booking_id)
                    now = await conn.scalar(select(func.now()))
                if stored.settled or not locked:
                    return stored
                decision = decide(entries, compensation=self.settings.compensation)
                if isinstance(decision, Finish):
                    return await self._finish(stored, decision)
                wait = self._wait_s(booking_id, decision, entries, now)
                if time.monotonic() + wait > deadline:
                    return stored
                if wait > 0:
                    await asyncio.sleep(wait)
                await self._run(stored.booking, decision)

    async def recover(self, idle_s: float | None = None) -> int:
        """Advance every saga with work left that has been quiet for `idle_s`; returns how many
        were looked at."""
        idle = self.settings.recovery_idle_s if idle_s is None else idle_s
        async with self.db.transaction() as conn:
            ids = await repository.unsettled_ids(conn, idle)
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

    # -- saga steps --------------------------------------------------------------------------

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

    async def _run(self, booking: Booking, call: Call) -> None:
        operation = self._operation(call)
        async with self.db.transaction() as conn:
            await repository.append_log(
                conn, booking.id, LogEntry(call.step, call.action, EntryStatus.STARTED)
            )
        outcome = await operation(booking)
        status = EntryStatus.SUCCEEDED if outcome is Outcome.OK else EntryStatus.FAILED
        async with self.db.transaction() as conn:
            await repository.append_log(
                conn, booking.id, LogEntry(call.step, call.action, status, outcome.value)
            )
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

    async def _finish(self, stored: StoredBooking, finish: Finish) -> StoredBooking:
        """Terminal status and its event in one transaction (the outbox makes both or none)."""
        async with self.db.transaction() as conn:
            done = await repository.settle(conn, stored.booking.id, finish.status, finish.reason)
            if done is None:  # settled meanwhile by someone else
                return await self._reload(conn, stored.booking.id)
            await self.publisher.emit(conn, _event(done.booking))
        SAGA_OUTCOMES.labels(finish.status.value).inc()
        if stored.booking.status is BookingStatus.PENDING:
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

    async def _reload(self, conn: AsyncConnection, booking_id: uuid.UUID) -> StoredBooking:
        stored = await repository.get(conn, booking_id)
        if stored is None:
            raise BookingNotFound(str(booking_id))
        return stored


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
