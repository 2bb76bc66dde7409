"""`app`: notifications, as uvicorn runs it (`system_under_test.notifications.app:app`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from system_under_test.common.app import ServiceParts, create_app, served_app
from system_under_test.common.uow import SqlUnitOfWork

from .api import router
from .consumer import consumer
from .orm import metadata
from .repository import SqlNotificationRepository
from .service import NotificationService
from .settings import NotificationsSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def service(app: FastAPI) -> NotificationService:
    uow = SqlUnitOfWork(app.state.db, SqlNotificationRepository)
    return NotificationService(uow, dedupe=app.state.settings.consumer_dedupe)


def build_app(settings: NotificationsSettings | None = None) -> FastAPI:
    settings = settings or NotificationsSettings()
    parts = ServiceParts(
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        routers=[router],
        messaging=True,
        consumers=[consumer],
        service=service,
    )
    return create_app(
        settings,
        parts,
        title="notifications",
        description="Messages sent for account and booking events, each event at most once.",
    )


__getattr__ = served_app(__name__, build_app, NotificationsSettings)
