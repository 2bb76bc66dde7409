"""Use cases of payments: each runs in one transaction, serialised per booking; a booking's
first charge, while it has no charge row at all, is a single statement."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from uuid import UUID

from system_under_test.common.uow import UnitOfWork

from . import domain
from .domain import Charge, ChargeNotFound, PaymentDeclined, Status
from .repository import PaymentsRepository


@dataclass(frozen=True)
class Charged:
    charge: Charge
    created: bool


class PaymentsService:
    def __init__(self, uow: UnitOfWork[PaymentsRepository]) -> None:
        self.uow = uow

    async def charge(self, booking_id: UUID, amount_cents: int, payment_method: str) -> Charged:
        """Capture once per booking; a replay returns the capture. A decline is recorded,
        committed, then raised as PaymentDeclined."""
        domain.authorize(payment_method)  # refuse unknown methods before touching anything
        charge = domain.attempt(uuid.uuid4(), booking_id, amount_cents, payment_method)
        # The common case, a booking's first charge, is one statement; a repeat, a void or a
        # retry after a decline is decided below, serialised with refunds of the booking.
        async with self.uow.statement() as tx:
            first = await tx.repo.save_first(charge)
        if not first:
            async with self.uow.transaction() as tx:
                repo = tx.repo
                await repo.lock_booking(booking_id)
                existing = await repo.get(booking_id)
                if existing is not None:
                    replayed = domain.replay_or_refuse(existing, amount_cents)
                    if replayed is not None:
                        return Charged(replayed, created=False)
                charge_id = existing.id if existing is not None else uuid.uuid4()
                charge = domain.attempt(charge_id, booking_id, amount_cents, payment_method)
                await repo.save(charge)
                await repo.record_attempt(charge)
        if charge.status is Status.DECLINED:
            raise PaymentDeclined(booking_id, charge.decline_code or "declined")
        return Charged(charge, created=True)

    async def refund(self, booking_id: UUID) -> Charge:
        async with self.uow.transaction() as tx:
            repo = tx.repo
            await repo.lock_booking(booking_id)
            existing = await repo.get(booking_id)
            refunded = domain.refund(existing, uuid.uuid4(), booking_id)
            if refunded != existing:
                await repo.save(refunded)
        return refunded

    async def get(self, booking_id: UUID) -> Charge:
        async with self.uow.statement() as tx:
            charge = await tx.repo.get(booking_id)
        if charge is None:
            raise ChargeNotFound(f"no charge for booking {booking_id}")
        return charge

    async def attempts(self, booking_id: UUID) -> list[str]:
        async with self.uow.statement() as tx:
            return await tx.repo.attempts(booking_id)
