"""The facilities service: `uvicorn system_under_test.facilities.app:app`."""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse

from system_under_test.common.app import ServiceParts, create_app
from system_under_test.common.problems import problem_response
from system_under_test.common.settings import ServiceSettings

from .api import router
from .domain import (
    FacilitiesError,
    FacilityNotFound,
    InvalidSlot,
    ReservationMismatch,
    ReservationNotFound,
    ReservationReleased,
    SlotUnavailable,
)
from .orm import MIGRATIONS_DIR, metadata


class FacilitiesSettings(ServiceSettings):
    name: str = "facilities"
    port: int = 8082


_PROBLEMS: dict[type[FacilitiesError], tuple[int, str]] = {
    FacilityNotFound: (404, "Facility not found"),
    ReservationNotFound: (404, "Reservation not found"),
    SlotUnavailable: (409, "Slot unavailable"),
    ReservationReleased: (409, "Reservation released"),
    ReservationMismatch: (409, "Booking holds another reservation"),
    InvalidSlot: (422, "Invalid slot"),
}


async def _domain_problem(request: Request, exc: Exception) -> JSONResponse:
    status, title = _PROBLEMS.get(type(exc), (409, "Conflict"))
    return problem_response(status, title, str(exc))


def build_app(settings: FacilitiesSettings | None = None) -> FastAPI:
    settings = settings or FacilitiesSettings()
    app = create_app(
        settings,
        ServiceParts(metadata=metadata, migrations_dir=MIGRATIONS_DIR, routers=[router]),
        title="facilities",
        description="Chapels and halls, and the time slots reserved in them.",
    )
    app.add_exception_handler(FacilitiesError, _domain_problem)
    return app


app = build_app()
