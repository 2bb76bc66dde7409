"""A provider whose database is away: the state behind the consumers' 503 interactions.

The provider's engine is swapped for one that dials a port nobody listens on, so each query
fails to connect exactly as when PostgreSQL is down; teardown puts the real engine back.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from sqlalchemy.ext.asyncio import create_async_engine

from contracts.provider.verify import ProviderStates
from contracts.serving import Served

UNREACHABLE = "postgresql+psycopg://postgres@127.0.0.1:9/unreachable"


def add_database_outage(states: ProviderStates, served: Served, app: FastAPI) -> None:
    db = app.state.db
    saved: list[Any] = []

    async def away() -> None:
        saved.append(db._engine)
        db._engine = create_async_engine(UNREACHABLE, connect_args={"connect_timeout": 1})

    async def back() -> None:
        if saved:
            dead, db._engine = db._engine, saved.pop()
            await dead.dispose()

    states.state("the database is unavailable", teardown=lambda p: served.run(back()))(
        lambda p: served.run(away())
    )
