"""Requests and database reads shared by the bookings integration tests."""

from __future__ import annotations

import itertools
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from conftest import eventually
from sqlalchemy import create_engine, select

from system_under_test.bookings.orm import outbox, saga_log

FACILITY = str(uuid.uuid4())
# A new day for every booking, so tests never compete for a slot unless they mean to.
_DAYS = itertools.count()


def booking_body(**overrides: Any) -> dict[str, Any]:
    start = datetime(2031, 1, 1, 10, tzinfo=UTC) + timedelta(days=next(_DAYS))
    body = {
        "user_id": str(uuid.uuid4()),
        "facility_id": FACILITY,
        "starts_at": start.isoformat(),
        "ends_at": (start + timedelta(hours=2)).isoformat(),
        "amount_cents": 25000,
        "payment_method": "pm_card_visa",
    }
    body.update(overrides)
    return body


async def place(client, body: dict[str, Any] | None = None, key: str | None = None):
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    return await client.post("/bookings", json=body or booking_body(), headers=headers)


def outbox_events(database_url: str, *booking_ids: Any) -> list[dict[str, Any]]:
    """The events in the outbox, in order; only those of `booking_ids` when given."""
    wanted = {str(i) for i in booking_ids}
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = [row.payload for row in conn.execute(select(outbox).order_by(outbox.c.id))]
    finally:
        engine.dispose()
    return [e for e in rows if not wanted or e["data"]["booking_id"] in wanted]


def saga_steps(database_url: str, booking_id: str) -> list[tuple[str, str, str]]:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(
                select(saga_log.c.step, saga_log.c.action, saga_log.c.status)
                .where(saga_log.c.booking_id == uuid.UUID(booking_id))
                .order_by(saga_log.c.seq)
            )
            return [tuple(r) for r in rows]
    finally:
        engine.dispose()


def finished_calls(steps: list[tuple[str, str, str]]) -> list[str]:
    names = {
        ("reserve", "do"): "reserve",
        ("charge", "do"): "charge",
        ("confirm", "do"): "confirm",
        ("reserve", "compensate"): "release",
        ("charge", "compensate"): "refund",
    }
    return [names[(s, a)] for s, a, status in steps if status != "started" and s != "cancel"]


async def next_event(events) -> dict[str, Any]:
    message = await eventually(lambda: events.get(fail=False))
    await message.ack()
    assert message.message_id
    return json.loads(message.body)


def database_url_of(client) -> str:
    return client.app.state.settings.database_url
