"""The audit's readers against the real servers: the suite's own schemas and a real DLQ."""

from __future__ import annotations

import json
import secrets
from collections.abc import AsyncIterator

import aio_pika
import pytest

from harness.audit import Sources, read_dead_letters

pytestmark = pytest.mark.integration

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    ns = f"fl_t_{secrets.token_hex(4)}"
    yield ns
    conn = await aio_pika.connect(AMQP_URL)
    async with conn:
        channel = await conn.channel()
        for queue in (f"{ns}.notifications.dlq", f"{ns}.notifications"):
            await channel.queue_delete(queue)


async def test_dead_letters_are_reported_and_left_in_the_queue(namespace: str) -> None:
    conn = await aio_pika.connect(AMQP_URL)
    async with conn:
        channel = await conn.channel()
        dlq = await channel.declare_queue(f"{namespace}.notifications.dlq", durable=True)
        body = {"event_id": "e-1", "type": "booking.confirmed", "data": {"booking_id": "b-1"}}
        await channel.default_exchange.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                message_id="e-1",
                headers={"x-first-death-reason": "rejected"},
            ),
            routing_key=dlq.name,
        )
    sources = Sources({}, AMQP_URL, namespace)

    first = await read_dead_letters(sources)
    again = await read_dead_letters(sources)

    assert [(d.message_id, d.type, d.reason, d.booking_id) for d in first] == [
        ("e-1", "booking.confirmed", "rejected", "b-1")
    ]
    assert again == first  # reading does not consume: people can still inspect them


async def test_a_dead_letter_queue_never_declared_means_none(namespace: str) -> None:
    assert await read_dead_letters(Sources({}, AMQP_URL, namespace)) == []
