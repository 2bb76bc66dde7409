"""`app`: the users service, as uvicorn runs it (`system_under_test.users.app:app`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from system_under_test.common.app import ServiceParts, create_app, served_app
from system_under_test.common.uow import SqlUnitOfWork

from .api import PROBLEMS, router
from .orm import metadata
from .repository import SqlUserRepository
from .service import UserService
from .settings import UsersSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def service(app: FastAPI) -> UserService:
    return UserService(SqlUnitOfWork(app.state.db, SqlUserRepository, app.state.publisher))


def build_app(settings: UsersSettings | None = None) -> FastAPI:
    settings = settings or UsersSettings()
    parts = ServiceParts(
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        routers=[router],
        messaging=True,
        service=service,
        problems=PROBLEMS,
    )
    return create_app(settings, parts, title="users", description="Family and staff accounts.")


__getattr__ = served_app(__name__, build_app, UsersSettings)
