"""The facilities service: `uvicorn system_under_test.facilities.app:app`."""

from __future__ import annotations

from fastapi import FastAPI

from system_under_test.common.app import ServiceParts, create_app, served_app
from system_under_test.common.uow import SqlUnitOfWork

from .api import PROBLEMS, router
from .orm import MIGRATIONS_DIR, metadata
from .repository import SqlFacilitiesRepository
from .service import FacilitiesService
from .settings import FacilitiesSettings


def service(app: FastAPI) -> FacilitiesService:
    return FacilitiesService(SqlUnitOfWork(app.state.db, SqlFacilitiesRepository))


def build_app(settings: FacilitiesSettings | None = None) -> FastAPI:
    settings = settings or FacilitiesSettings()
    parts = ServiceParts(
        metadata=metadata,
        migrations_dir=MIGRATIONS_DIR,
        routers=[router],
        service=service,
        problems=PROBLEMS,
    )
    return create_app(
        settings,
        parts,
        title="facilities",
        description="Chapels and halls, and the time slots reserved in them.",
    )


__getattr__ = served_app(__name__, build_app, FacilitiesSettings)
