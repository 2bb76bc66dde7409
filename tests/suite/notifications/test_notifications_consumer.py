"""notifications consuming real RabbitMQ messages into real PostgreSQL: one message per
event, redeliveries absorbed by the inbox (unless switched off), poison to the DLQ at once,
events retried through an outage of its own database."""

from __future__ import annotations

import json
import uuid

import aio_pika
import psycopg
import pytest
from conftest import app_client, eventually
from prometheus_client import REGISTRY
from sqlalchemy.engine import make_url

from system_under_test.common.db import libpq_dsn
from system_under_test.common.events import make_event
from system_under_test.common.messaging import DEAD_REASON_HEADER
from system_under_test.notifications.app import build_app
from system_under_test.notifications.settings import NotificationsSettings

pytestmark = pytest.mark.integration


@pytest.fixture
async def channel(amqp_url):
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        yield await connection.channel()


async def _start(make_database_url, broker_namespace, amqp_url, **overrides):
    settings = NotificationsSettings(
        database_url=make_database_url(),
        namespace=broker_namespace.name,
        amqp_url=amqp_url,
        **overrides,
    )
    client_cm = app_client(build_app(settings))
    client = await client_cm.__aenter__()
    await eventually(lambda: _ready(client))
    return client_cm, client, settings


async def _ready(client) -> bool:
    return (await client.get("/ready")).status_code == 200


@pytest.fixture
async def notifications(make_database_url, broker_namespace, amqp_url):
    cm, client, _ = await _start(make_database_url, broker_namespace, amqp_url)
    try:
        yield client
    finally:
        await cm.__aexit__(None, None, None)


@pytest.fixture
async def notifications_without_dedupe(make_database_url, broker_namespace, amqp_url):
    cm, client, _ = await _start(
        make_database_url, broker_namespace, amqp_url, consumer_dedupe=False
    )
    try:
        yield client
    finally:
        await cm.__aexit__(None, None, None)


async def publish(channel, namespace: str, event: dict, routing_key: str | None = None) -> None:
    exchange = await channel.get_exchange(f"{namespace}.events")
    await exchange.publish(
        aio_pika.Message(json.dumps(event).encode(), message_id=str(event.get("event_id"))),
        routing_key=routing_key or event["type"],
    )


def handled(outcome: str) -> float:
    value = REGISTRY.get_sample_value("faultline_notifications_events_total", {"outcome": outcome})
    return value or 0.0


def retried() -> float:
    value = REGISTRY.get_sample_value(
        "faultline_consumer_retries_total", {"queue": "notifications"}
    )
    return value or 0.0


def booking_event(type_: str, user_id: uuid.UUID, booking_id: uuid.UUID) -> dict:
    return make_event(
        type_, {"booking_id": str(booking_id), "user_id": str(user_id), "reason": None}
    )


async def listed(client, **params) -> list[dict]:
    response = await client.get("/notifications", params={k: str(v) for k, v in params.items()})
    assert response.status_code == 200
    return response.json()


async def test_each_event_type_becomes_one_message(notifications, channel, broker_namespace):
    user_id, booking_id = uuid.uuid4(), uuid.uuid4()
    welcome = make_event(
        "user.created", {"user_id": str(user_id), "email": "ann@example.com", "name": "Ann"}
    )
    await publish(channel, broker_namespace.name, welcome)
    for type_ in ("booking.confirmed", "booking.cancelled"):
        await publish(channel, broker_namespace.name, booking_event(type_, user_id, booking_id))

    sent = await eventually(
        lambda: _at_least(listed(notifications, user_id=user_id), 3), within_s=10
    )
    assert sorted(m["event_type"] for m in sent) == [
        "booking.cancelled",
        "booking.confirmed",
        "user.created",
    ]
    greeting = next(m for m in sent if m["event_type"] == "user.created")
    assert greeting["event_id"] == welcome["event_id"]
    assert greeting["recipient"] == "ann@example.com"
    assert greeting["channel"] == "email"
    assert greeting["booking_id"] is None

    per_booking = await listed(notifications, booking_id=booking_id)
    assert {m["recipient"] for m in per_booking} == {f"user:{user_id}"}
    only_cancelled = await listed(
        notifications, booking_id=booking_id, event_type="booking.cancelled"
    )
    assert len(only_cancelled) == 1


async def _at_least(pending, n: int):
    items = await pending
    return items if len(items) >= n else None


async def test_redelivered_event_is_sent_once(notifications, channel, broker_namespace):
    event = booking_event("booking.confirmed", uuid.uuid4(), booking_id := uuid.uuid4())
    duplicates_before = handled("duplicate")

    await publish(channel, broker_namespace.name, event)
    await publish(channel, broker_namespace.name, event)

    await eventually(lambda: handled("duplicate") >= duplicates_before + 1)
    assert len(await listed(notifications, booking_id=booking_id)) == 1


async def test_without_dedupe_a_redelivery_is_sent_again(
    notifications_without_dedupe, channel, broker_namespace
):
    event = booking_event("booking.confirmed", uuid.uuid4(), booking_id := uuid.uuid4())
    await publish(channel, broker_namespace.name, event)
    await publish(channel, broker_namespace.name, event)

    sent = await eventually(
        lambda: _at_least(listed(notifications_without_dedupe, booking_id=booking_id), 2)
    )
    assert [m["event_id"] for m in sent] == [event["event_id"]] * 2


async def test_poison_messages_are_dead_lettered_and_do_not_block(
    notifications, channel, broker_namespace
):
    ns = broker_namespace.name
    queue = f"{ns}.notifications"
    retries_before = retried()
    no_booking_id = make_event("booking.confirmed", {"user_id": str(uuid.uuid4())})
    unknown_type = make_event("invoice.paid", {"user_id": str(uuid.uuid4())})
    await publish(channel, ns, no_booking_id)
    # An unknown type is never routed here; sent straight to the queue it must not stick.
    await channel.default_exchange.publish(
        aio_pika.Message(json.dumps(unknown_type).encode(), message_id=unknown_type["event_id"]),
        routing_key=queue,
    )
    await channel.default_exchange.publish(aio_pika.Message(b"\x00 not json"), routing_key=queue)
    good = booking_event("booking.rejected", uuid.uuid4(), booking_id := uuid.uuid4())
    await publish(channel, ns, good)

    await eventually(lambda: _at_least(listed(notifications, booking_id=booking_id), 1))

    dlq = await channel.get_queue(f"{queue}.dlq")
    dead: list[aio_pika.abc.AbstractIncomingMessage] = []

    async def drained() -> bool:
        message = await dlq.get(fail=False)
        if message is not None:
            dead.append(message)
            await message.ack()
        return len(dead) == 3

    await eventually(drained)
    assert retried() == retries_before  # dead-lettered on the first attempt, never retried
    reasons = {m.message_id: m.headers[DEAD_REASON_HEADER] for m in dead}
    assert reasons[no_booking_id["event_id"]] == "data.booking_id is missing"
    assert reasons[unknown_type["event_id"]] == "notifications does not handle 'invoice.paid'"
    assert b"\x00 not json" in {m.body for m in dead}


async def test_list_rejects_bad_filters(notifications):
    assert (await notifications.get("/notifications?booking_id=nope")).status_code == 422
    assert (await notifications.get("/notifications?event_type=invoice.paid")).status_code == 422
    assert await listed(notifications, booking_id=uuid.uuid4()) == []


def _database_accepts_connections(database_url: str, accept: bool) -> None:
    """A real outage of one database of our own: refuse new sessions, end the open ones."""
    name = make_url(database_url).database
    with psycopg.connect(libpq_dsn(database_url, "postgres"), autocommit=True) as admin:
        admin.execute(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {str(accept).lower()}')
        if not accept:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = %s",
                (name,),
            )


async def test_an_event_that_arrives_while_the_database_is_away_is_sent_once_it_returns(
    make_database_url, broker_namespace, amqp_url, channel
):
    cm, client, settings = await _start(
        make_database_url,
        broker_namespace,
        amqp_url,
        consumer_retry_backoff_s=0.05,
        consumer_retry_cap_s=0.3,
    )
    try:
        event = booking_event("booking.confirmed", uuid.uuid4(), booking_id := uuid.uuid4())
        _database_accepts_connections(settings.database_url, False)
        try:
            before = retried()
            await publish(channel, broker_namespace.name, event)
            # Several failed attempts, each one waiting out its backoff in a delay queue.
            await eventually(lambda: retried() >= before + 3, within_s=15)
        finally:
            _database_accepts_connections(settings.database_url, True)
        sent = await eventually(lambda: _at_least(listed(client, booking_id=booking_id), 1))
        assert [m["event_id"] for m in sent] == [event["event_id"]]
        dlq = await channel.declare_queue(
            f"{broker_namespace.name}.notifications.dlq", passive=True
        )
        assert dlq.declaration_result.message_count == 0
    finally:
        await cm.__aexit__(None, None, None)
