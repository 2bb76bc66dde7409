"""payments as a provider: charges, declines and voids set up through its own service."""

from __future__ import annotations

from typing import Any
from uuid import UUID

from fastapi import FastAPI
from sqlalchemy import delete

from contracts.provider.outage import add_database_outage
from contracts.provider.tables import truncate
from contracts.provider.verify import ProviderStates
from contracts.serving import Served
from system_under_test.payments.orm import charge_attempts, charges, metadata
from system_under_test.payments.service import PaymentsService

CARD_OK = "pm_card_visa"


def payments_states(served: Served, app: FastAPI) -> ProviderStates:
    states = ProviderStates(reset=lambda: truncate(served, app, metadata))
    service: PaymentsService = app.state.service

    async def remove(booking_id: UUID) -> None:
        async with app.state.db.transaction() as conn:
            await conn.execute(
                delete(charge_attempts).where(charge_attempts.c.booking_id == booking_id)
            )
            await conn.execute(delete(charges).where(charges.c.booking_id == booking_id))

    @states.state("the booking is charged")
    def _(p: dict[str, Any]) -> None:
        served.run(service.charge(UUID(p["booking_id"]), int(p["amount_cents"]), CARD_OK))

    @states.state("no charge for the booking")
    def _(p: dict[str, Any]) -> None:
        served.run(remove(UUID(p["booking_id"])))

    @states.state("the booking's charge was voided")
    def _(p: dict[str, Any]) -> None:
        # Refunding a booking never charged voids it: a late charge is then refused.
        served.run(service.refund(UUID(p["booking_id"])))

    add_database_outage(states, served, app)
    return states
