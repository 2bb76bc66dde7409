"""facilities as a provider: facilities and reservations set up through its own service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from fastapi import FastAPI
from sqlalchemy import delete

from contracts.provider.outage import add_database_outage
from contracts.provider.tables import truncate
from contracts.provider.verify import ProviderStates
from contracts.serving import Served
from system_under_test.facilities.domain import Facility, Slot
from system_under_test.facilities.orm import facilities, metadata, reservations
from system_under_test.facilities.repository import SqlFacilitiesRepository
from system_under_test.facilities.service import FacilitiesService

DEFAULT_FACILITY = {"name": "Chapel of Rest", "capacity": 80}


def facilities_states(served: Served, app: FastAPI) -> ProviderStates:
    states = ProviderStates(reset=lambda: truncate(served, app, metadata))
    service: FacilitiesService = app.state.service

    async def add_facility(p: dict[str, Any]) -> None:
        async with app.state.db.transaction() as conn:
            repo = SqlFacilitiesRepository(conn)
            if await repo.get_facility(UUID(p["id"])) is None:
                await repo.add_facility(
                    Facility(id=UUID(p["id"]), name=p["name"], capacity=int(p["capacity"]))
                )

    async def hold(p: dict[str, Any]) -> None:
        await add_facility({"id": p["facility_id"], **DEFAULT_FACILITY})
        slot = Slot(datetime.fromisoformat(p["starts_at"]), datetime.fromisoformat(p["ends_at"]))
        await service.reserve(UUID(p["booking_id"]), UUID(p["facility_id"]), slot)

    async def released(p: dict[str, Any]) -> None:
        await hold(p)
        await service.release(UUID(p["booking_id"]))

    async def remove(*conditions: Any) -> None:
        async with app.state.db.transaction() as conn:
            for table, condition in conditions:
                await conn.execute(delete(table).where(condition))

    @states.state("a facility exists")
    def _(p: dict[str, Any]) -> None:
        served.run(add_facility(p))

    @states.state("no facility has the id")
    def _(p: dict[str, Any]) -> None:
        fid = UUID(p["id"])
        served.run(
            remove(
                (reservations, reservations.c.facility_id == fid),
                (facilities, facilities.c.id == fid),
            )
        )

    @states.state("no facilities exist")
    def _(p: dict[str, Any]) -> None:
        truncate(served, app, metadata)

    @states.state("a reservation is held")
    def _(p: dict[str, Any]) -> None:
        served.run(hold(p))

    @states.state("a reservation was released")
    def _(p: dict[str, Any]) -> None:
        served.run(released(p))

    @states.state("no reservation for the booking")
    def _(p: dict[str, Any]) -> None:
        served.run(remove((reservations, reservations.c.booking_id == UUID(p["booking_id"]))))

    add_database_outage(states, served, app)
    return states
