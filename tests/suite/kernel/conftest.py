"""Kernel test fixtures: a migrated sample database and a broker observer."""

import json
import uuid

import aio_pika
import pytest

from system_under_test.common.db import Database
from system_under_test.common.settings import ServiceSettings

from .sample_service.orm import MIGRATIONS, metadata


@pytest.fixture
async def sample_db(make_database_url):
    """A freshly migrated sample database of its own (outbox rows never leak across tests)."""
    db = Database(make_database_url(), metadata, MIGRATIONS)
    await db.start()
    yield db
    await db.stop()


@pytest.fixture
def settings_for(broker_namespace):
    """Settings of a uniquely named sample service in this test's broker namespace."""

    def make(**overrides) -> ServiceSettings:
        values = {
            "name": f"sample_{uuid.uuid4().hex[:8]}",
            "namespace": broker_namespace.name,
            "amqp_url": broker_namespace.amqp_url,
        }
        return ServiceSettings(**{**values, **overrides})

    return make


class Observer:
    """A queue bound to `ns.events` that collects every event published there."""

    def __init__(self, queue: aio_pika.abc.AbstractQueue) -> None:
        self.queue = queue
        self.messages: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def drain(self) -> list[dict]:
        while (message := await self.queue.get(fail=False, no_ack=True)) is not None:
            self.messages.append(message)
        return [json.loads(m.body) for m in self.messages]


@pytest.fixture
async def observer(broker_namespace):
    """Declares `ns.events` (idempotent) and an observer queue bound with `#`."""
    connection = await aio_pika.connect(broker_namespace.amqp_url)
    channel = await connection.channel()
    exchange = await channel.declare_exchange(
        f"{broker_namespace.name}.events", aio_pika.ExchangeType.TOPIC, durable=True
    )
    name = f"{broker_namespace.name}.{broker_namespace.track('observer')}"
    queue = await channel.declare_queue(name, durable=True)
    await queue.bind(exchange, routing_key="#")
    yield Observer(queue)
    await connection.close()
