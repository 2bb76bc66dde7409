"""Transactional outbox: written with the business change, relayed with confirms, and
caught up after a broker outage; with the outbox switched off events are lost instead."""

import asyncio
import socket

import pytest
from prometheus_client import REGISTRY
from sqlalchemy import select

from system_under_test.common.events import make_event
from system_under_test.common.messaging import Broker
from system_under_test.common.outbox import EventPublisher, OutboxRelay
from system_under_test.common.settings import ServiceSettings

from .sample_service.orm import outbox, widgets

pytestmark = pytest.mark.integration


def dead_amqp_url() -> str:
    """A loopback port with nothing listening (bound, then released)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"amqp://guest:guest@127.0.0.1:{port}/"


async def add_widget(db, publisher, name: str, *, fail: bool = False) -> dict:
    event = make_event("widget.created", {"name": name})
    async with db.transaction() as conn:
        await conn.execute(widgets.insert().values(name=name))
        await publisher.emit(conn, event)
        if fail:
            raise RuntimeError("business rule failed after the emit")
    return event


async def pending(db) -> list[str]:
    async with db.transaction() as conn:
        rows = await conn.execute(
            select(outbox.c.event_id).where(outbox.c.published_at.is_(None)).order_by(outbox.c.id)
        )
        return list(rows.scalars())


async def test_event_row_commits_or_rolls_back_with_the_business_change(sample_db, settings_for):
    settings = settings_for()
    broker = Broker(settings)  # never started: nothing may be published directly
    publisher = EventPublisher(settings, broker, outbox)
    kept = await add_widget(sample_db, publisher, "kept")
    with pytest.raises(RuntimeError):
        await add_widget(sample_db, publisher, "doomed", fail=True)
    assert await pending(sample_db) == [kept["event_id"]]


async def test_relay_publishes_in_order_with_message_properties(
    sample_db, settings_for, observer, wait_until
):
    settings = settings_for()
    broker = Broker(settings)
    await broker.start()
    await broker.wait_ready(10)
    relay = OutboxRelay(sample_db, broker, outbox, settings)
    publisher = EventPublisher(settings, broker, outbox, relay)
    relay.start()
    try:
        sent = [await add_widget(sample_db, publisher, f"w{i}") for i in range(5)]
        await wait_until(lambda: pending_is_empty(sample_db), within_s=10)
        received = await wait_until(lambda: drained(observer, 5), within_s=10)
    finally:
        await relay.stop()
        await broker.stop()
    assert [e["event_id"] for e in received] == [e["event_id"] for e in sent]
    first = observer.messages[0]
    assert first.message_id == sent[0]["event_id"]
    assert first.routing_key == "widget.created"
    assert first.content_type == "application/json"
    assert first.delivery_mode == 2  # persistent


async def pending_is_empty(db) -> bool:
    return await pending(db) == []


async def drained(observer, count: int):
    events = await observer.drain()
    return events if len(events) >= count else None


async def test_relay_catches_up_after_a_broker_outage(
    sample_db, settings_for, observer, wait_until
):
    settings = settings_for()
    down = settings.model_copy(update={"amqp_url": dead_amqp_url()})
    away = Broker(down)
    await away.start()
    relay = OutboxRelay(sample_db, away, outbox, settings)
    publisher = EventPublisher(settings, away, outbox, relay)
    relay.start()
    try:
        sent = [await add_widget(sample_db, publisher, f"o{i}") for i in range(3)]
        await wait_until(lambda: backlog_metric(settings.name) == 3, within_s=5)
        assert len(await pending(sample_db)) == 3
        assert not away.ready
    finally:
        await relay.stop()
        await away.stop()

    # The broker is back: a relay (as after a restart or reconnect) publishes the backlog.
    broker = Broker(settings)
    await broker.start()
    relay = OutboxRelay(sample_db, broker, outbox, settings)
    relay.start()
    try:
        received = await wait_until(lambda: drained(observer, 3), within_s=15)
        await wait_until(lambda: backlog_metric(settings.name) == 0, within_s=5)
    finally:
        await relay.stop()
        await broker.stop()
    assert [e["event_id"] for e in received] == [e["event_id"] for e in sent]
    assert await pending(sample_db) == []


async def test_unroutable_events_stay_in_the_outbox(sample_db, settings_for, wait_until):
    # No queue is bound: `mandatory` makes the broker return the message, so it is retried
    # later instead of vanishing.
    settings = settings_for()
    broker = Broker(settings)
    await broker.start()
    await broker.wait_ready(10)
    relay = OutboxRelay(sample_db, broker, outbox, settings)
    publisher = EventPublisher(settings, broker, outbox, relay)
    try:
        event = await add_widget(sample_db, publisher, "nobody-listens")
        with pytest.raises(Exception, match=r"(?i)unroutable|NO_ROUTE|return"):
            await relay.publish_pending()
        assert await pending(sample_db) == [event["event_id"]]
    finally:
        await broker.stop()


def backlog_metric(service: str) -> float | None:
    return REGISTRY.get_sample_value("faultline_outbox_backlog", {"service": service})


async def test_outbox_off_publishes_after_commit_and_loses_events_when_broker_away(
    sample_db, settings_for, observer, wait_until
):
    settings = settings_for(outbox=False)
    broker = Broker(settings)
    await broker.start()
    await broker.wait_ready(10)
    publisher = EventPublisher(settings, broker, outbox)
    try:
        delivered = await add_widget(sample_db, publisher, "direct")
        received = await wait_until(lambda: drained(observer, 1), within_s=10)
        assert received[0]["event_id"] == delivered["event_id"]
        assert await pending(sample_db) == []  # nothing went through the table
    finally:
        await broker.stop()

    away = Broker(settings.model_copy(update={"amqp_url": dead_amqp_url()}))
    publisher = EventPublisher(settings, away, outbox)
    before = lost_metric(settings.name)
    await add_widget(sample_db, publisher, "lost")
    assert lost_metric(settings.name) == before + 1
    assert await pending(sample_db) == []


def lost_metric(service: str) -> float:
    value = REGISTRY.get_sample_value(
        "faultline_events_lost_total", {"service": service, "type": "widget.created"}
    )
    return value or 0.0


async def test_after_failed_passes_the_relay_backs_off_doubling_then_polls_again():
    # The relay's own loop, with its passes and waits scripted: no database, no broker.
    settings = ServiceSettings(name="backoff", outbox_poll_s=0.1)
    relay = OutboxRelay(None, None, outbox, settings)  # type: ignore[arg-type]
    passes = iter(["fail"] * 6 + ["ok"] + ["fail"] * 2)
    waits: list[float] = []

    async def publish_pending() -> int:
        outcome = next(passes, "stop")
        if outcome == "stop":
            raise asyncio.CancelledError  # as `stop()` would
        if outcome == "fail":
            raise ConnectionError("broker away")
        relay._drained = True
        return 0

    async def sleep(seconds: float) -> None:
        waits.append(round(seconds, 3))

    async def count_backlog() -> None:
        return None

    relay.publish_pending = publish_pending  # type: ignore[method-assign]
    relay._sleep = sleep  # type: ignore[method-assign]
    relay._update_backlog = count_backlog  # type: ignore[method-assign]
    with pytest.raises(asyncio.CancelledError):
        await relay._run()
    # Twice the poll interval, doubling up to 2 s; a pass that worked waits the poll interval
    # and starts the doubling over.
    assert waits == [0.2, 0.4, 0.8, 1.6, 2.0, 2.0, 0.1, 0.2, 0.4]
