"""SIGKILL the real bookings process in the middle of a saga; a new process finishes it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import sys
from collections.abc import AsyncIterator

import httpx
import pytest
from conftest import eventually
from sqlalchemy import create_engine, select

from system_under_test.bookings.orm import bookings as bookings_table
from system_under_test.bookings.orm import outbox

from .helpers import booking_body, outbox_events

pytestmark = pytest.mark.integration

RUNNING = re.compile(r"Uvicorn running on (http://127\.0\.0\.1:\d+)")


@contextlib.asynccontextmanager
async def bookings_process(
    env: dict[str, str],
) -> AsyncIterator[tuple[asyncio.subprocess.Process, str]]:
    """`uvicorn system_under_test.bookings.app:app` on a free port, as the stack runs it."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "uvicorn",
        "system_under_test.bookings.app:app",
        "--host",
        "127.0.0.1",
        "--port",
        "0",
        env={**os.environ, **env},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    assert process.stderr is not None
    drain: asyncio.Task[bytes] | None = None
    try:
        async with asyncio.timeout(30):
            while not (match := RUNNING.search((await process.stderr.readline()).decode())):
                if process.returncode is not None:
                    raise RuntimeError("bookings exited before serving")
        # Keep reading so that a full pipe never blocks the process.
        drain = asyncio.create_task(process.stderr.read())
        yield process, match.group(1)
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 10)
            except TimeoutError:
                process.kill()
                await process.wait()
        if drain is not None:
            drain.cancel()


def booking_ids(database_url: str) -> list[str]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            return [str(i) for i in conn.scalars(select(bookings_table.c.id))]
    finally:
        engine.dispose()


async def test_sigkill_during_the_charge_then_restart_confirms_once(
    settings_for, downstreams, events
):
    settings = settings_for(http_timeout_s=10.0)
    env = {
        "SVC_DATABASE_URL": settings.database_url,
        "SVC_AMQP_URL": settings.amqp_url,
        "SVC_NAMESPACE": settings.namespace,
        "SVC_FACILITIES_URL": settings.facilities_url,
        "SVC_PAYMENTS_URL": settings.payments_url,
        "SVC_HTTP_TIMEOUT_S": "10",
        "SVC_LOG_LEVEL": "INFO",
    }
    gate = downstreams.payments.gates["charge"] = asyncio.Event()

    async with bookings_process(env) as (first, url), httpx.AsyncClient(base_url=url) as client:
        request = asyncio.create_task(
            client.post("/bookings", json=booking_body(), headers={"Idempotency-Key": "kill"})
        )
        await eventually(lambda: downstreams.payments.calls["charge"] == 1, within_s=20)
        first.kill()
        await first.wait()
        with pytest.raises(httpx.HTTPError):
            await request  # the process died before answering
    [booking_id] = booking_ids(settings.database_url)
    # The charge that was under way when the process died still reaches payments.
    gate.set()
    await eventually(lambda: downstreams.payments.charges.get(booking_id) == "captured")

    async with bookings_process(env) as (_, url), httpx.AsyncClient(base_url=url) as client:

        async def confirmed() -> bool:
            response = await client.get(f"/bookings/{booking_id}")
            return response.json()["status"] == "confirmed"

        await eventually(confirmed, within_s=20)
        await eventually(lambda: not outbox_pending(settings.database_url, booking_id))

    assert downstreams.payments.calls["charge"] == 2  # repeated once, captured once
    assert downstreams.payments.charges[booking_id] == "captured"
    assert downstreams.facilities.reservations[booking_id].status == "confirmed"
    events_for_booking = outbox_events(settings.database_url, booking_id)
    assert [e["type"] for e in events_for_booking] == ["booking.confirmed"]


def outbox_pending(database_url: str, booking_id: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(outbox.c.payload, outbox.c.published_at)).all()
    finally:
        engine.dispose()
    return any(
        r.published_at is None and r.payload["data"]["booking_id"] == booking_id for r in rows
    )
