"""RabbitMQ through aio-pika: a robust connection, confirmed publishing, consumers with a DLQ.

Names (namespace `ns`): topic exchange `ns.events` (routing key = event type), dead-letter
exchange `ns.dlx` (direct), consumer queue `ns.<queue>` and its dead-letter queue
`ns.<queue>.dlq`. A service starts even when the broker is away: the connection is made in
the background and `ready` stays False until it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)

from .observability import correlation_id_var, get_correlation_id
from .settings import ServiceSettings
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
ATTEMPT_HEADER = "x-faultline-attempt"


class BrokerUnavailable(RuntimeError):
    """The broker connection is not (yet) established."""


@dataclass
class _Consumer:
    queue: str
    routing_keys: Sequence[str]
    handler: Handler
    max_attempts: int


class Broker:
    """One service's connection to RabbitMQ."""

    def __init__(self, settings: ServiceSettings, *, publish_timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.namespace = settings.namespace
        self.exchange_name = f"{self.namespace}.events"
        self.dlx_name = f"{self.namespace}.dlx"
        self.publish_timeout_s = publish_timeout_s
        self._connection: AbstractRobustConnection | None = None
        self._channel: AbstractRobustChannel | None = None
        self._exchange: AbstractRobustExchange | None = None
        self._consumers: list[_Consumer] = []
        self._started_consumers: set[str] = set()
        self._connect_task: asyncio.Task[None] | None = None
        self._connected = asyncio.Event()

    def queue_name(self, queue: str) -> str:
        return f"{self.namespace}.{queue}"

    def dlq_name(self, queue: str) -> str:
        return f"{self.namespace}.{queue}.dlq"

    @property
    def ready(self) -> bool:
        """True while connected (False before the first connect and during reconnects)."""
        conn = self._connection
        return (
            self._exchange is not None
            and conn is not None
            and not conn.is_closed
            and conn.connected.is_set()
        )

    async def start(self) -> None:
        """Begin connecting in the background; returns at once."""
        if self._connect_task is None:
            self._connect_task = asyncio.create_task(self._connect_loop(), name="broker-connect")

    async def wait_ready(self, within_s: float) -> None:
        """Wait for the first successful connection (raises TimeoutError)."""
        async with asyncio.timeout(within_s):
            await self._connected.wait()

    async def _connect_loop(self) -> None:
        delay = 0.2
        while True:
            connection = None
            try:
                connection = await aio_pika.connect_robust(
                    self.settings.amqp_url, timeout=5, reconnect_interval=1
                )
                await self._declare(connection)
                break
            except Exception as exc:
                if connection is not None:
                    with contextlib.suppress(Exception):
                        await connection.close()
                self._exchange = None
                log.warning("broker unreachable (%s); retrying in %.1fs", exc, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
        self._connected.set()
        log.info("broker connected")

    async def _declare(self, connection: AbstractRobustConnection) -> None:
        channel = await connection.channel(publisher_confirms=True, on_return_raises=True)
        await channel.set_qos(prefetch_count=32)
        await channel.declare_exchange(self.dlx_name, aio_pika.ExchangeType.DIRECT, durable=True)
        exchange = await channel.declare_exchange(
            self.exchange_name, aio_pika.ExchangeType.TOPIC, durable=True
        )
        self._connection = connection
        self._channel = channel  # type: ignore[assignment]
        self._started_consumers.clear()
        for consumer in self._consumers:
            await self._start_consumer(consumer)
        self._exchange = exchange  # type: ignore[assignment]

    async def publish(self, event: dict[str, Any], correlation_id: str | None = None) -> None:
        """Publish `event` to the events exchange and wait for the broker's confirm.

        Raises `BrokerUnavailable` when not connected, and aio-pika's errors when the broker
        refuses or cannot route the message (`mandatory`), so the outbox can retry it.
        """
        if not self.ready or self._exchange is None:
            raise BrokerUnavailable("broker not connected")
        message = aio_pika.Message(
            body=json.dumps(event).encode(),
            message_id=str(event["event_id"]),
            correlation_id=correlation_id or get_correlation_id(),
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=str(event["type"]),
        )
        await self._exchange.publish(
            message, routing_key=str(event["type"]), mandatory=True, timeout=self.publish_timeout_s
        )

    async def consume(
        self,
        queue: str,
        routing_keys: Sequence[str],
        handler: Handler,
        max_attempts: int = 5,
    ) -> None:
        """Consume `ns.<queue>` bound to `routing_keys`; `handler(event)` gets the event dict.

        A handler that raises is retried after a backoff (the message is republished with an
        attempt count) until `max_attempts` failures, then the message goes to `ns.<queue>.dlq`. The
        correlation id of the message is set for the handler's logs and outbound calls.
        Declared now if connected, otherwise as soon as the connection is made.
        """
        consumer = _Consumer(queue, tuple(routing_keys), handler, max(1, max_attempts))
        self._consumers.append(consumer)
        if self._exchange is not None:
            await self._start_consumer(consumer)

    async def _start_consumer(self, consumer: _Consumer) -> None:
        if consumer.queue in self._started_consumers or self._channel is None:
            return
        channel = self._channel
        name = self.queue_name(consumer.queue)
        dlq = await channel.declare_queue(self.dlq_name(consumer.queue), durable=True)
        await dlq.bind(self.dlx_name, routing_key=name)
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={"x-dead-letter-exchange": self.dlx_name, "x-dead-letter-routing-key": name},
        )
        for key in consumer.routing_keys:
            await queue.bind(self.exchange_name, routing_key=key)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._handle(consumer, name, message)

        await queue.consume(on_message)
        self._started_consumers.add(consumer.queue)

    async def _handle(
        self, consumer: _Consumer, queue_name: str, message: AbstractIncomingMessage
    ) -> None:
        token = correlation_id_var.set(message.correlation_id)
        attempt = int((message.headers or {}).get(ATTEMPT_HEADER, 1) or 1)
        try:
            try:
                event = json.loads(message.body)
                if not isinstance(event, dict) or "event_id" not in event:
                    raise ValueError("not an event envelope")
            except ValueError:
                log.error("undecodable message %s: dead-lettered", message.message_id)
                await message.reject(requeue=False)
                return
            try:
                await consumer.handler(event)
            except Exception:
                if attempt >= consumer.max_attempts:
                    log.exception(
                        "handler failed on attempt %d/%d for %s: dead-lettered",
                        attempt,
                        consumer.max_attempts,
                        event.get("event_id"),
                    )
                    await message.reject(requeue=False)
                    return
                log.warning(
                    "handler failed on attempt %d/%d for %s: retrying",
                    attempt,
                    consumer.max_attempts,
                    event.get("event_id"),
                    exc_info=True,
                )
                backoff = self.settings.consumer_retry_backoff_s * 2 ** (attempt - 1)
                await asyncio.sleep(min(backoff, 5.0))
                await self._republish(message, queue_name, attempt + 1)
                return
            await message.ack()
        except Exception:
            # The channel went away mid-handling: the broker will redeliver the message.
            log.warning("could not settle message %s", message.message_id, exc_info=True)
        finally:
            correlation_id_var.reset(token)

    async def _republish(
        self, message: AbstractIncomingMessage, queue_name: str, attempt: int
    ) -> None:
        assert self._channel is not None
        retry = aio_pika.Message(
            body=message.body,
            headers={**(message.headers or {}), ATTEMPT_HEADER: attempt},
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=message.type,
        )
        # Publish the copy (confirmed) before acking the original: a crash in between
        # duplicates the message, which the inbox absorbs, instead of losing it.
        await self._channel.default_exchange.publish(retry, routing_key=queue_name)
        await message.ack()

    async def stop(self) -> None:
        if self._connect_task is not None:
            await cancel_and_wait(self._connect_task)
            self._connect_task = None
        if self._connection is not None:
            with contextlib.suppress(Exception):
                await self._connection.close()
        self._connection = self._channel = self._exchange = None
        self._started_consumers.clear()
        self._connected.clear()
