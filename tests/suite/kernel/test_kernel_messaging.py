"""Consumers: retries with an attempt count, dead-lettering, inbox dedupe, correlation ids."""

import asyncio

import aio_pika
import pytest

from system_under_test.common.events import make_event
from system_under_test.common.inbox import first_delivery
from system_under_test.common.messaging import ATTEMPT_HEADER, Broker
from system_under_test.common.observability import correlation_id_var

pytestmark = pytest.mark.integration


@pytest.fixture
async def broker(settings_for):
    broker = Broker(settings_for())
    await broker.start()
    await broker.wait_ready(10)
    yield broker
    await broker.stop()


async def dlq_messages(broker_namespace, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(broker_namespace.amqp_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(f"{broker_namespace.name}.{queue}.dlq", passive=True)
        found = []
        while (message := await dlq.get(fail=False, no_ack=True)) is not None:
            found.append(message)
        return found


async def test_failing_handler_is_retried_then_dead_lettered(broker, broker_namespace, wait_until):
    queue = broker_namespace.track("poison")
    calls: list[int] = []

    async def always_fails(event: dict) -> None:
        calls.append(1)
        raise ValueError("cannot handle this")

    await broker.consume(queue, ["thing.happened"], always_fails, max_attempts=3)
    event = make_event("thing.happened", {"n": 1})
    await broker.publish(event, "corr-poison")

    dead = await wait_until(lambda: dlq_messages(broker_namespace, queue), within_s=10)
    assert len(calls) == 3
    assert dead[0].message_id == event["event_id"]
    assert dead[0].headers[ATTEMPT_HEADER] == 3
    assert dead[0].correlation_id == "corr-poison"


async def test_handler_that_recovers_processes_the_event_once(broker, broker_namespace, wait_until):
    queue = broker_namespace.track("flaky")
    seen: list[tuple[str, str | None]] = []

    async def fails_once(event: dict) -> None:
        seen.append((event["event_id"], correlation_id_var.get()))
        if len(seen) == 1:
            raise ConnectionError("downstream hiccup")

    await broker.consume(queue, ["thing.*"], fails_once, max_attempts=3)
    event = make_event("thing.flaked", {})
    await broker.publish(event, "corr-flaky")
    await wait_until(lambda: len(seen) == 2, within_s=10)
    assert seen == [(event["event_id"], "corr-flaky")] * 2
    assert await dlq_messages(broker_namespace, queue) == []


async def test_inbox_dedupes_redeliveries_unless_switched_off(sample_db):
    async with sample_db.transaction() as conn:
        assert await first_delivery(conn, "e-1", "notifications") is True
        assert await first_delivery(conn, "e-1", "notifications") is False
        assert await first_delivery(conn, "e-1", "audit") is True  # per consumer
        assert await first_delivery(conn, "e-1", "notifications", dedupe=False) is True


async def test_inbox_entry_rolls_back_with_a_failed_handler(sample_db):
    with pytest.raises(RuntimeError):
        async with sample_db.transaction() as conn:
            assert await first_delivery(conn, "e-2", "notifications") is True
            raise RuntimeError("handler failed before commit")
    async with sample_db.transaction() as conn:
        assert await first_delivery(conn, "e-2", "notifications") is True


async def test_concurrent_deliveries_of_one_event_pass_the_inbox_once(sample_db):
    async def deliver() -> bool:
        async with sample_db.transaction() as conn:
            return await first_delivery(conn, "e-3", "notifications")

    results = await asyncio.gather(*(deliver() for _ in range(5)))
    assert sorted(results) == [False] * 4 + [True]


async def test_publish_while_broker_away_raises_and_consumers_wait_for_it(settings_for):
    from system_under_test.common.messaging import BrokerUnavailable

    broker = Broker(settings_for(amqp_url="amqp://guest:guest@127.0.0.1:1/"))
    await broker.start()
    try:
        assert broker.ready is False
        with pytest.raises(BrokerUnavailable):
            await broker.publish(make_event("x.y", {}))
    finally:
        await broker.stop()
