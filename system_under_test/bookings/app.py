"""The bookings service: `uvicorn system_under_test.bookings.app:app`."""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

from fastapi import FastAPI

from system_under_test.common.app import ServiceParts, create_app, served_app
from system_under_test.common.uow import SqlUnitOfWork

from .api import PROBLEMS, router
from .clients import FacilitiesClient, PaymentsClient
from .orm import metadata
from .repository import SqlBookingRepository
from .service import BookingService, reraise_if_cancelled
from .settings import BookingsSettings

log = logging.getLogger(__name__)

MIGRATIONS = Path(__file__).parent / "migrations"


def service(app: FastAPI) -> BookingService:
    state = app.state
    return BookingService(
        SqlUnitOfWork(state.db, SqlBookingRepository, state.publisher),
        FacilitiesClient(state.downstreams["facilities"]),
        PaymentsClient(state.downstreams["payments"]),
        state.settings,
    )


async def recovery_loop(app: FastAPI) -> None:
    """Resume every unfinished saga: all of them at start, then the quiet ones each tick."""
    service: BookingService = app.state.service
    settings: BookingsSettings = app.state.settings
    idle_s = 0.0  # at start every unfinished saga was left by a previous process
    while True:
        try:
            await service.recover(idle_s)
        except Exception:
            reraise_if_cancelled()
            log.exception("saga recovery pass failed")
        idle_s = settings.recovery_idle_s
        await asyncio.sleep(settings.recovery_interval_s)


def build_app(settings: BookingsSettings | None = None) -> FastAPI:
    settings = settings or BookingsSettings()
    parts = ServiceParts(
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        routers=[router],
        messaging=True,
        downstreams={"facilities": settings.facilities_url, "payments": settings.payments_url},
        service=service,
        problems=PROBLEMS,
        background=[recovery_loop],
    )
    return create_app(
        settings,
        parts,
        title="bookings",
        description="Bookings and the saga that reserves, charges and confirms them.",
    )


__getattr__ = served_app(__name__, build_app, BookingsSettings)
