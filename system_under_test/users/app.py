"""`app`: the users service, as uvicorn runs it (`system_under_test.users.app:app`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI

from system_under_test.common.app import ServiceParts, create_app

from .api import router
from .orm import metadata
from .settings import UsersSettings

MIGRATIONS = Path(__file__).parent / "migrations"


def build_app(settings: UsersSettings | None = None) -> FastAPI:
    settings = settings or UsersSettings()
    parts = ServiceParts(
        metadata=metadata, migrations_dir=MIGRATIONS, routers=[router], messaging=True
    )
    return create_app(settings, parts, title="users", description="Family and staff accounts.")


app = build_app()
