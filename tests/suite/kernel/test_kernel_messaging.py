"""Consumers against a real RabbitMQ: poison dead-lettered at once, transient failures retried
from broker delay queues (visible, crash-safe), the in-flight gauge, inbox dedupe."""

import asyncio
import contextlib

import aio_pika
import pytest
from prometheus_client import REGISTRY

from system_under_test.common.events import make_event
from system_under_test.common.inbox import first_delivery
from system_under_test.common.messaging import (
    ATTEMPT_HEADER,
    DEAD_REASON_HEADER,
    DELAY_TIERS,
    Broker,
    PoisonMessage,
    queue_names,
)
from system_under_test.common.observability import correlation_id_var

pytestmark = pytest.mark.integration


@pytest.fixture
async def make_broker(settings_for):
    """`await make_broker(**settings)`: a started, connected broker, stopped after the test."""
    started: list[Broker] = []

    async def make(**overrides) -> Broker:
        broker = Broker(settings_for(**overrides))
        await broker.start()
        await broker.wait_ready(10)
        started.append(broker)
        return broker

    yield make
    for broker in started:
        await broker.stop()


@pytest.fixture
async def broker(make_broker):
    return await make_broker()


@pytest.fixture
async def channel(broker_namespace):
    connection = await aio_pika.connect(broker_namespace.amqp_url)
    async with connection:
        yield await connection.channel()


async def dlq_messages(broker_namespace, queue: str) -> list[aio_pika.abc.AbstractIncomingMessage]:
    connection = await aio_pika.connect(broker_namespace.amqp_url)
    async with connection:
        channel = await connection.channel()
        dlq = await channel.declare_queue(f"{broker_namespace.name}.{queue}.dlq", passive=True)
        found = []
        while (message := await dlq.get(fail=False, no_ack=True)) is not None:
            found.append(message)
        return found


async def ready_counts(broker_namespace, queue: str) -> dict[str, int]:
    """Messages ready in each of the consumer's queues, as a passive declare reports them."""
    connection = await aio_pika.connect(broker_namespace.amqp_url)
    counts = {}
    async with connection:
        channel = await connection.channel()
        for name in queue_names(broker_namespace.name, queue):
            declared = await channel.declare_queue(name, passive=True)
            counts[name] = declared.declaration_result.message_count or 0
    return counts


def in_flight(queue: str) -> float:
    return REGISTRY.get_sample_value("faultline_consumer_in_flight", {"queue": queue}) or 0.0


def retries(queue: str) -> float:
    return REGISTRY.get_sample_value("faultline_consumer_retries_total", {"queue": queue}) or 0.0


async def test_a_poison_event_is_dead_lettered_at_once(broker, broker_namespace, wait_until):
    queue = broker_namespace.track("poison")
    calls: list[int] = []

    async def refuses(event: dict) -> None:
        calls.append(1)
        raise PoisonMessage("data.booking_id is missing")

    await broker.consume(queue, ["thing.happened"], refuses)
    event = make_event("thing.happened", {"n": 1})
    await broker.publish(event, "corr-poison")

    dead = await wait_until(lambda: dlq_messages(broker_namespace, queue), within_s=10)
    assert len(calls) == 1
    assert dead[0].message_id == event["event_id"]
    assert dead[0].correlation_id == "corr-poison"
    assert dead[0].headers[DEAD_REASON_HEADER] == "data.booking_id is missing"


async def test_a_message_that_is_no_event_is_dead_lettered_at_once(
    broker, broker_namespace, channel, wait_until
):
    queue = broker_namespace.track("garbage")
    calls: list[dict] = []

    async def handler(event: dict) -> None:
        calls.append(event)

    await broker.consume(queue, ["thing.*"], handler)
    await channel.default_exchange.publish(
        aio_pika.Message(b"\x00 not json"), routing_key=f"{broker_namespace.name}.{queue}"
    )

    dead = await wait_until(lambda: dlq_messages(broker_namespace, queue), within_s=10)
    assert dead[0].body == b"\x00 not json"
    assert dead[0].headers[DEAD_REASON_HEADER].startswith("undecodable")
    assert calls == []


async def test_a_transient_failure_is_retried_until_its_budget_is_spent(
    make_broker, broker_namespace, wait_until
):
    broker = await make_broker(consumer_retry_backoff_s=0.05, consumer_retry_budget_s=1.0)
    queue = broker_namespace.track("down")
    calls: list[int] = []

    async def database_away(event: dict) -> None:
        calls.append(1)
        raise ConnectionRefusedError("database unreachable")

    await broker.consume(queue, ["thing.happened"], database_away)
    await broker.publish(make_event("thing.happened", {}), "corr-down")

    dead = await wait_until(lambda: dlq_messages(broker_namespace, queue), within_s=15)
    assert len(calls) >= 3  # retried, not dead-lettered on the first failure
    assert dead[0].headers[ATTEMPT_HEADER] == len(calls)
    assert dead[0].headers[DEAD_REASON_HEADER].startswith(f"retries exhausted after {len(calls)}")
    assert "database unreachable" in dead[0].headers[DEAD_REASON_HEADER]


async def test_an_attempt_cap_dead_letters_after_that_many_attempts(
    make_broker, broker_namespace, wait_until
):
    broker = await make_broker(consumer_retry_backoff_s=0.05)
    queue = broker_namespace.track("capped")
    calls: list[int] = []

    async def always_fails(event: dict) -> None:
        calls.append(1)
        raise RuntimeError("still failing")

    await broker.consume(queue, ["thing.happened"], always_fails, max_attempts=3)
    await broker.publish(make_event("thing.happened", {}))

    dead = await wait_until(lambda: dlq_messages(broker_namespace, queue), within_s=10)
    assert len(calls) == 3
    assert dead[0].headers[ATTEMPT_HEADER] == 3


async def test_handler_that_recovers_processes_the_event_once(broker, broker_namespace, wait_until):
    queue = broker_namespace.track("flaky")
    seen: list[tuple[str, str | None]] = []

    async def fails_once(event: dict) -> None:
        seen.append((event["event_id"], correlation_id_var.get()))
        if len(seen) == 1:
            raise ConnectionError("downstream hiccup")

    await broker.consume(queue, ["thing.*"], fails_once)
    event = make_event("thing.flaked", {})
    await broker.publish(event, "corr-flaky")
    await wait_until(lambda: len(seen) == 2, within_s=10)
    assert seen == [(event["event_id"], "corr-flaky")] * 2
    assert await dlq_messages(broker_namespace, queue) == []


async def test_a_failed_event_waits_in_a_delay_queue_not_in_the_consumer(
    make_broker, broker_namespace, wait_until
):
    # A backoff long enough to look at the event while it waits.
    broker = await make_broker(consumer_retry_backoff_s=3.0)
    queue = broker_namespace.track("waits")
    work = f"{broker_namespace.name}.{queue}"
    first_tier = f"{work}.retry.1"
    calls: list[int] = []

    async def fails_once(event: dict) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionRefusedError("database unreachable")

    await broker.consume(queue, ["thing.happened"], fails_once)
    await broker.publish(make_event("thing.happened", {}))

    counts = await wait_until(
        lambda: _when(ready_counts(broker_namespace, queue), lambda c: c[first_tier] == 1)
    )
    assert counts[work] == 0
    assert in_flight(queue) == 0  # the consumer holds nothing while the event waits
    await wait_until(lambda: len(calls) == 2, within_s=15)  # the TTL brought it back
    assert sum((await ready_counts(broker_namespace, queue)).values()) == 0


async def test_an_event_waiting_out_its_backoff_survives_the_consumer(
    make_broker, broker_namespace, wait_until
):
    first = await make_broker(consumer_retry_backoff_s=1.0)
    queue = broker_namespace.track("survives")
    tier = f"{broker_namespace.name}.{queue}.retry.1"
    handled: list[str] = []

    async def database_away(event: dict) -> None:
        raise ConnectionRefusedError("database unreachable")

    async def database_back(event: dict) -> None:
        handled.append(event["event_id"])

    await first.consume(queue, ["thing.happened"], database_away)
    event = make_event("thing.happened", {})
    await first.publish(event)
    await wait_until(lambda: _when(ready_counts(broker_namespace, queue), lambda c: c[tier] == 1))
    await first.stop()  # gone while the event waits: nothing of it lives in this process

    second = await make_broker(consumer_retry_backoff_s=1.0)
    await second.consume(queue, ["thing.happened"], database_back)

    await wait_until(lambda: handled, within_s=15)
    assert handled == [event["event_id"]]
    assert await dlq_messages(broker_namespace, queue) == []


async def test_the_in_flight_gauge_counts_an_event_the_broker_no_longer_counts(
    broker, broker_namespace, wait_until
):
    queue = broker_namespace.track("busy")
    started, release = asyncio.Event(), asyncio.Event()

    async def slow(event: dict) -> None:
        started.set()
        await release.wait()

    await broker.consume(queue, ["thing.happened"], slow)
    await broker.publish(make_event("thing.happened", {}))
    await asyncio.wait_for(started.wait(), 10)

    # Unacknowledged: a passive declare (all AMQP offers) sees an empty queue...
    assert sum((await ready_counts(broker_namespace, queue)).values()) == 0
    assert in_flight(queue) == 1  # ...and the gauge is what shows the event is still moving.
    release.set()
    await wait_until(lambda: in_flight(queue) == 0)


async def test_with_delay_queues_switched_off_the_event_waits_inside_the_consumer(
    make_broker, broker_namespace, wait_until
):
    broker = await make_broker(consumer_retry_backoff_s=2.0, consumer_delay_queues=False)
    queue = broker_namespace.track("memory")
    calls: list[int] = []

    async def fails_once(event: dict) -> None:
        calls.append(1)
        if len(calls) == 1:
            raise ConnectionRefusedError("database unreachable")

    await broker.consume(queue, ["thing.happened"], fails_once)
    await broker.publish(make_event("thing.happened", {}))

    await wait_until(lambda: calls)
    assert sum((await ready_counts(broker_namespace, queue)).values()) == 0
    assert in_flight(queue) == 1  # held, unacknowledged, through its whole backoff
    await wait_until(lambda: len(calls) == 2, within_s=10)


async def test_the_consumer_declares_exactly_the_queues_queue_names_lists(
    broker, broker_namespace, channel
):
    queue = broker_namespace.track("declared")

    async def handler(event: dict) -> None:
        return None

    await broker.consume(queue, ["thing.happened"], handler)
    names = queue_names(broker_namespace.name, queue)
    assert len(names) == DELAY_TIERS + 2
    for name in names:  # a passive declare fails on a queue that does not exist
        await channel.declare_queue(name, passive=True)


def test_backoff_doubles_up_to_its_cap_with_a_little_jitter(settings_for):
    broker = Broker(
        settings_for(consumer_retry_backoff_s=0.5, consumer_retry_cap_s=8.0, namespace="ns")
    )
    for attempt, base in [(1, 0.5), (2, 1.0), (3, 2.0), (4, 4.0), (5, 8.0), (9, 8.0)]:
        delays = [broker.retry_delay_s(attempt) for _ in range(50)]
        assert all(base <= d <= base + 0.5 for d in delays), (attempt, delays)
        assert len(set(delays)) > 1  # jittered
    assert broker.delay_queue_name("q", 1) == "ns.q.retry.1"
    assert broker.delay_queue_name("q", DELAY_TIERS + 7) == f"ns.q.retry.{DELAY_TIERS}"


async def _when(pending, predicate):
    value = await pending
    return value if predicate(value) else None


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
        with contextlib.suppress(Exception):
            await broker.stop()
