"""The kernel under load: the in-flight bound sheds at once with 503 + Retry-After, a pool
checkout that times out is a 503 too, and a pooled connection that died while idle is
replaced before anyone uses it."""

from __future__ import annotations

import asyncio

import psycopg
import pytest
from fastapi import APIRouter, FastAPI, Request
from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError

from system_under_test.common.app import ServiceParts, create_app
from system_under_test.common.db import Database, libpq_dsn
from system_under_test.common.settings import ServiceSettings

from .sample_service.orm import MIGRATIONS, metadata, widgets

pytestmark = pytest.mark.integration

BOUND = 5


class Gate:
    """Holds every request to /held until opened; counts those that arrived."""

    def __init__(self) -> None:
        self.opened = asyncio.Event()
        self.arrived = 0

    def router(self) -> APIRouter:
        router = APIRouter()

        @router.post("/held")
        async def held() -> dict[str, str]:
            self.arrived += 1
            await self.opened.wait()
            return {"status": "done"}

        @router.get("/widgets")
        async def list_widgets(request: Request) -> list[str]:
            async with request.app.state.db.transaction() as conn:
                return list((await conn.scalars(select(widgets.c.name))).all())

        return router


def _shed(response) -> bool:
    return (
        response.status_code == 503
        and response.headers["content-type"] == "application/problem+json"
        and int(response.headers["retry-after"]) >= 1
        and response.json()["title"] == "Service overloaded"
    )


async def test_past_the_bound_requests_are_shed_at_once_and_probes_still_answer(
    asgi_client, wait_until
):
    gate = Gate()
    settings = ServiceSettings(name="bounded", max_in_flight=BOUND)
    app = create_app(settings, ServiceParts(routers=[gate.router()]))
    async with asgi_client(app) as client:
        held = [asyncio.create_task(client.post("/held")) for _ in range(BOUND)]
        await wait_until(lambda: gate.arrived == BOUND)
        # Dozens more while the bound is reached: each is answered while the others are
        # still held, so none of them waited for a slot.
        extra = await asyncio.gather(*(client.post("/held") for _ in range(40)))
        assert all(_shed(r) for r in extra), {r.status_code for r in extra}
        assert gate.arrived == BOUND and not any(t.done() for t in held)
        for probe in ("/health", "/metrics"):
            assert (await client.get(probe)).status_code == 200
        metrics = (await client.get("/metrics")).text
        assert 'faultline_requests_shed_total{service="bounded"} 40.0' in metrics
        assert 'faultline_requests_in_flight{service="bounded"} 5.0' in metrics
        gate.opened.set()
        assert [r.status_code for r in await asyncio.gather(*held)] == [200] * BOUND
        # The bound frees up as requests finish.
        assert (await client.post("/held")).status_code == 200


async def test_a_pool_checkout_that_times_out_is_a_503_with_retry_after(
    asgi_client, make_database_url
):
    gate = Gate()
    settings = ServiceSettings(
        name="pooled",
        database_url=make_database_url(),
        db_pool_size=1,
        db_pool_overflow=0,
        db_pool_timeout_s=0.2,
    )
    parts = ServiceParts(metadata=metadata, migrations_dir=MIGRATIONS, routers=[gate.router()])
    app: FastAPI = create_app(settings, parts)
    async with asgi_client(app) as client:
        assert (await client.get("/widgets")).status_code == 200
        # The only connection is taken, and stays taken until the answers are in.
        async with app.state.db.engine.connect() as taken:
            await taken.execute(text("SELECT 1"))
            answers = await asyncio.gather(*(client.get("/widgets") for _ in range(12)))
            still_held = not taken.closed
        assert still_held
        for answer in answers:
            assert answer.status_code == 503
            assert answer.headers["retry-after"] == "1"
            assert answer.json()["title"] == "Database unavailable"
        assert (await client.get("/widgets")).status_code == 200


async def test_a_pooled_connection_killed_while_idle_is_replaced_unseen(make_database_url):
    # Every checkout counts as idle here, so each one is pinged first.
    db = Database(make_database_url(), metadata, MIGRATIONS, ping_after_idle_s=0.0)
    await db.start()
    try:
        async with db.transaction() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        await _terminate(db, pid)
        async with db.transaction() as conn:
            await conn.execute(widgets.insert().values(name="after the kill"))
            new_pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        assert new_pid != pid
    finally:
        await db.stop()


async def test_a_connection_that_dies_right_after_use_fails_once_then_the_pool_recovers(
    make_database_url,
):
    # Used a moment ago, so not pinged: its death is found by the next statement, as if it
    # had died during that statement. That one fails (a 503 in a service); the pool then
    # drops every connection opened before the failure, and the next transaction works.
    db = Database(make_database_url(), metadata, MIGRATIONS, ping_after_idle_s=3600)
    await db.start()
    try:
        async with db.transaction() as conn:
            pid = await conn.scalar(text("SELECT pg_backend_pid()"))
        await _terminate(db, pid)
        with pytest.raises(DBAPIError) as failure:
            async with db.transaction() as conn:
                await conn.execute(text("SELECT 1"))
        assert failure.value.connection_invalidated
        async with db.transaction() as conn:
            assert await conn.scalar(text("SELECT pg_backend_pid()")) != pid
    finally:
        await db.stop()


async def _terminate(db: Database, pid: int) -> None:
    """End a backend from outside the pool, as a database restart would."""
    async with await psycopg.AsyncConnection.connect(libpq_dsn(db.url), autocommit=True) as conn:
        await conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
