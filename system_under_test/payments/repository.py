"""Database adapter: charges and their attempts."""

from __future__ import annotations

from typing import Protocol
from uuid import UUID

from sqlalchemy import Row, func, select, text
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import Charge, Status
from .orm import charge_attempts, charges


def _charge(row: Row) -> Charge:
    return Charge(
        id=row.id,
        booking_id=row.booking_id,
        amount_cents=row.amount_cents,
        payment_method=row.payment_method,
        status=Status(row.status),
        decline_code=row.decline_code,
    )


# A first charge and its attempt in one statement; nothing when the booking has a charge row.
_FIRST_CHARGE = text("""
WITH charge AS (
    INSERT INTO charges (booking_id, id, amount_cents, payment_method, status, decline_code)
    VALUES (:booking_id, :id, :amount_cents, :payment_method, :status, :decline_code)
    ON CONFLICT (booking_id) DO NOTHING
    RETURNING booking_id
)
INSERT INTO charge_attempts (booking_id, amount_cents, payment_method, outcome, decline_code)
SELECT booking_id, :amount_cents, :payment_method, :status, :decline_code FROM charge
RETURNING id
""")


class PaymentsRepository(Protocol):
    """Charges (one row per booking) and every attempt. Within one transaction,
    `lock_booking` serialises the charges and refunds of that booking until it ends."""

    async def lock_booking(self, booking_id: UUID) -> None: ...
    async def get(self, booking_id: UUID) -> Charge | None: ...

    async def save_first(self, charge: Charge) -> bool:
        """The booking's first charge and its attempt, together; False (nothing written) when
        the booking already has a charge row."""
        ...

    async def save(self, charge: Charge) -> None: ...
    async def record_attempt(self, charge: Charge) -> None: ...
    async def attempts(self, booking_id: UUID) -> list[str]: ...


class SqlPaymentsRepository:
    """Works inside the caller's transaction, or on an autocommit connection for the
    single-statement fast path."""

    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def lock_booking(self, booking_id: UUID) -> None:
        """Serialise charge and refund of one booking until the transaction ends."""
        await self.conn.execute(
            text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
            {"key": f"charge:{booking_id}"},
        )

    async def get(self, booking_id: UUID) -> Charge | None:
        row = (
            await self.conn.execute(select(charges).where(charges.c.booking_id == booking_id))
        ).first()
        return _charge(row) if row else None

    async def save_first(self, charge: Charge) -> bool:
        """Record the booking's first charge and its attempt; False (nothing written) when the
        booking already has a charge row (a repeat, a void, an earlier decline)."""
        attempt = await self.conn.scalar(
            _FIRST_CHARGE,
            {
                "booking_id": charge.booking_id,
                "id": charge.id,
                "amount_cents": charge.amount_cents,
                "payment_method": charge.payment_method,
                "status": charge.status.value,
                "decline_code": charge.decline_code,
            },
        )
        return attempt is not None

    async def save(self, charge: Charge) -> None:
        values = {
            "id": charge.id,
            "amount_cents": charge.amount_cents,
            "payment_method": charge.payment_method,
            "status": charge.status.value,
            "decline_code": charge.decline_code,
        }
        stmt = insert(charges).values(booking_id=charge.booking_id, **values)
        await self.conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[charges.c.booking_id], set_={**values, "updated_at": func.now()}
            )
        )

    async def record_attempt(self, charge: Charge) -> None:
        await self.conn.execute(
            charge_attempts.insert().values(
                booking_id=charge.booking_id,
                amount_cents=charge.amount_cents,
                payment_method=charge.payment_method,
                outcome=charge.status.value,
                decline_code=charge.decline_code,
            )
        )

    async def attempts(self, booking_id: UUID) -> list[str]:
        """Outcomes of the booking's attempts, oldest first."""
        rows = await self.conn.execute(
            select(charge_attempts.c.outcome)
            .where(charge_attempts.c.booking_id == booking_id)
            .order_by(charge_attempts.c.id)
        )
        return list(rows.scalars())
