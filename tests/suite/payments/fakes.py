"""payments' repository in memory (the rules `SqlPaymentsRepository` keeps: one charge row per
booking, every attempt recorded, a first charge and its attempt together)."""

from __future__ import annotations

from uuid import UUID

from system_under_test.payments.domain import Charge


class FakePaymentsRepository:
    def __init__(self) -> None:
        self.charges: dict[UUID, Charge] = {}
        self.attempted: list[tuple[UUID, str]] = []  # (booking, outcome), oldest first

    async def lock_booking(self, booking_id: UUID) -> None:
        """Nothing to do: the in-memory unit of work runs one transaction at a time."""

    async def get(self, booking_id: UUID) -> Charge | None:
        return self.charges.get(booking_id)

    async def save_first(self, charge: Charge) -> bool:
        if charge.booking_id in self.charges:
            return False
        self.charges[charge.booking_id] = charge
        await self.record_attempt(charge)
        return True

    async def save(self, charge: Charge) -> None:
        self.charges[charge.booking_id] = charge

    async def record_attempt(self, charge: Charge) -> None:
        self.attempted.append((charge.booking_id, charge.status.value))

    async def attempts(self, booking_id: UUID) -> list[str]:
        return [outcome for booking, outcome in self.attempted if booking == booking_id]
