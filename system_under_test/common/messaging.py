"""RabbitMQ through aio-pika: a robust connection, confirmed publishing, consumers with a DLQ.

Names (namespace `ns`): topic exchange `ns.events` (routing key = event type), dead-letter
exchange `ns.dlx` (direct), consumer queue `ns.<queue>`, its dead-letter queue `ns.<queue>.dlq`
and its delay queues `ns.<queue>.retry.1` … `ns.<queue>.retry.<DELAY_TIERS>`. A service starts
even when the broker is away: the connection is made in the background and `ready` stays False
until it is.

A failed event waits out its backoff inside RabbitMQ, never in a consumer's memory: the consumer
publishes a copy (confirmed) to the delay queue of its attempt with a per-message TTL, then acks
the original; when the TTL runs out the broker dead-letters the copy back to the work queue. So
a consumer that crashes during a backoff loses nothing, and every waiting event sits in a queue
anyone can count. The delay queue of attempt n holds only n-th retries, whose TTLs are all
about the same, so a message never waits long behind a slower one at the head of its queue;
the last tier takes every later attempt (by then the delay has reached its cap).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import aio_pika
from aio_pika.abc import (
    AbstractIncomingMessage,
    AbstractRobustChannel,
    AbstractRobustConnection,
    AbstractRobustExchange,
)
from prometheus_client import Counter, Gauge
from tenacity import AsyncRetrying, RetryCallState, wait_exponential, wait_random

from .observability import correlation_id_var, get_correlation_id, link_correlation, log_retry
from .settings import ServiceSettings
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)

Handler = Callable[[dict[str, Any]], Awaitable[None]]
ATTEMPT_HEADER = "x-faultline-attempt"
# Epoch milliseconds of the first failure: an integer, since AMQP floats are 32-bit.
FIRST_FAILURE_HEADER = "x-faultline-first-failed-ms"
DEAD_REASON_HEADER = "x-faultline-dead-reason"
DELAY_TIERS = 10
# Set by the broker on every dead-lettering; a retry copy starts its own history.
_BROKER_HEADERS = ("x-death", "x-first-death-", "x-last-death-")

IN_FLIGHT = Gauge(
    "faultline_consumer_in_flight",
    "Events delivered to this consumer and not yet settled (acked, retried or dead-lettered)",
    ["queue"],
)
DELIVERIES = Counter(
    "faultline_consumer_deliveries_total", "Events delivered to this consumer", ["queue"]
)
RETRIES = Counter(
    "faultline_consumer_retries_total",
    "Failed events sent to wait out a backoff before their next attempt",
    ["queue"],
)
DEAD_LETTERS = Counter(
    "faultline_consumer_dead_letters_total",
    "Events sent to the dead-letter queue: poison at once, transient once the budget is spent",
    ["queue", "reason"],
)


class BrokerUnavailable(RuntimeError):
    """The broker connection is not (yet) established."""


class PoisonMessage(Exception):
    """Raised by a handler for an event that can never be handled (malformed, unsupported):
    it goes to the dead-letter queue at once instead of being retried."""


def queue_names(namespace: str, queue: str) -> list[str]:
    """Every queue a consumer of `queue` declares: work queue, delay queues, dead-letter queue."""
    base = f"{namespace}.{queue}"
    return [base, *(f"{base}.retry.{n}" for n in range(1, DELAY_TIERS + 1)), f"{base}.dlq"]


@dataclass
class _Consumer:
    queue: str
    routing_keys: Sequence[str]
    handler: Handler
    max_attempts: int  # 0: no cap, only the retry budget


class _Attempt(RetryCallState):
    """A tenacity call state for a given attempt number, so tenacity's wait strategies compute
    the backoff of an attempt whose predecessors ran in other processes."""

    def __init__(self, number: int) -> None:
        super().__init__(None, None, (), {})  # type: ignore[arg-type]
        self.attempt_number = number


def _number(value: Any, default: float) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return default


class Broker:
    """One service's connection to RabbitMQ."""

    def __init__(self, settings: ServiceSettings, *, publish_timeout_s: float = 5.0) -> None:
        self.settings = settings
        self.namespace = settings.namespace
        self.exchange_name = f"{self.namespace}.events"
        self.dlx_name = f"{self.namespace}.dlx"
        self.publish_timeout_s = publish_timeout_s
        # Capped exponential backoff plus a little jitter, so events failing together do not
        # all come back at the same instant when the dependency returns.
        self.backoff = wait_exponential(
            multiplier=settings.consumer_retry_backoff_s, max=settings.consumer_retry_cap_s
        ) + wait_random(0, settings.consumer_retry_backoff_s)
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

    def delay_queue_name(self, queue: str, attempt: int) -> str:
        """Where the retry after failed attempt `attempt` waits (the last tier takes the rest)."""
        return f"{self.namespace}.{queue}.retry.{min(max(attempt, 1), DELAY_TIERS)}"

    def retry_delay_s(self, attempt: int) -> float:
        """The backoff after failed attempt `attempt` (1 = the first delivery)."""
        return float(self.backoff(_Attempt(attempt)))

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
        # Until the first connection is made; after that aio-pika's robust connection reconnects.
        retrying = AsyncRetrying(
            wait=wait_exponential(multiplier=0.2, max=2.0),
            before_sleep=log_retry(log, "broker unreachable"),
            reraise=True,
        )
        async for attempt in retrying:
            with attempt:
                await self._connect_once()
        self._connected.set()
        log.info("broker connected")

    async def _connect_once(self) -> None:
        connection = None
        try:
            connection = await aio_pika.connect_robust(
                self.settings.amqp_url, timeout=5, reconnect_interval=1
            )
            await self._declare(connection)
        except Exception:
            if connection is not None:
                with contextlib.suppress(Exception):
                    await connection.close()
            self._exchange = None
            raise

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
        max_attempts: int = 0,
    ) -> None:
        """Consume `ns.<queue>` bound to `routing_keys`; `handler(event)` gets the event dict.

        A handler that raises `PoisonMessage` (and a message that is no event envelope) goes to
        `ns.<queue>.dlq` at once. Any other failure is treated as transient (its database or a
        dependency is away): the event is retried after a capped exponential backoff, waiting in
        a delay queue, until `consumer_retry_budget_s` has passed since its first failure (or,
        when `max_attempts` > 0, after that many attempts); then it is dead-lettered. The
        correlation id of the message is set for the handler's logs and outbound calls.
        Declared now if connected, otherwise as soon as the connection is made.
        """
        consumer = _Consumer(queue, tuple(routing_keys), handler, max(0, max_attempts))
        self._consumers.append(consumer)
        IN_FLIGHT.labels(queue).set(0)  # present on /metrics before the first delivery
        if self._exchange is not None:
            await self._start_consumer(consumer)

    async def _start_consumer(self, consumer: _Consumer) -> None:
        if consumer.queue in self._started_consumers or self._channel is None:
            return
        channel = self._channel
        name = self.queue_name(consumer.queue)
        dlq = await channel.declare_queue(self.dlq_name(consumer.queue), durable=True)
        await dlq.bind(self.dlx_name, routing_key=name)
        for tier in range(1, DELAY_TIERS + 1):
            # No consumer: each message's own TTL ends its wait, then it goes back to work.
            await channel.declare_queue(
                self.delay_queue_name(consumer.queue, tier),
                durable=True,
                arguments={"x-dead-letter-exchange": "", "x-dead-letter-routing-key": name},
            )
        queue = await channel.declare_queue(
            name,
            durable=True,
            arguments={"x-dead-letter-exchange": self.dlx_name, "x-dead-letter-routing-key": name},
        )
        for key in consumer.routing_keys:
            await queue.bind(self.exchange_name, routing_key=key)

        async def on_message(message: AbstractIncomingMessage) -> None:
            await self._handle(consumer, message)

        await queue.consume(on_message)
        self._started_consumers.add(consumer.queue)

    async def _handle(self, consumer: _Consumer, message: AbstractIncomingMessage) -> None:
        # In flight from delivery until settled: the broker counts this message as unacked, and
        # this gauge is how anyone outside can see it (the audit's quiet check reads it).
        in_flight = IN_FLIGHT.labels(consumer.queue)
        in_flight.inc()
        DELIVERIES.labels(consumer.queue).inc()
        token = correlation_id_var.set(message.correlation_id)
        link_correlation(message.correlation_id)
        try:
            await self._settle(consumer, message)
        except Exception:
            log.warning("could not settle message %s", message.message_id, exc_info=True)
            # Back to its queue, where it is visible again. When the channel itself went away
            # this fails too, and the broker requeues every unacknowledged message on its own.
            with contextlib.suppress(Exception):
                await message.nack(requeue=True)
        finally:
            correlation_id_var.reset(token)
            in_flight.dec()

    async def _settle(self, consumer: _Consumer, message: AbstractIncomingMessage) -> None:
        try:
            event = json.loads(message.body)
            if not isinstance(event, dict) or "event_id" not in event:
                raise ValueError("not an event envelope")
        except ValueError as exc:
            await self._dead_letter(consumer, message, "poison", f"undecodable: {exc}")
            return
        try:
            await consumer.handler(event)
        except PoisonMessage as exc:
            await self._dead_letter(consumer, message, "poison", str(exc))
            return
        except Exception as exc:
            await self._retry_later(consumer, message, exc)
            return
        await message.ack()

    async def _retry_later(
        self, consumer: _Consumer, message: AbstractIncomingMessage, error: Exception
    ) -> None:
        headers = message.headers or {}
        attempt = max(1, int(_number(headers.get(ATTEMPT_HEADER), 1)))
        now_ms = int(time.time() * 1000)
        first_ms = int(_number(headers.get(FIRST_FAILURE_HEADER), now_ms))
        spent = (now_ms - first_ms) / 1000
        budget = self.settings.consumer_retry_budget_s
        if spent >= budget or (consumer.max_attempts and attempt >= consumer.max_attempts):
            why = f"retries exhausted after {attempt} attempts over {spent:.0f}s: {error!r}"
            await self._dead_letter(consumer, message, "exhausted", why)
            return
        delay = self.retry_delay_s(attempt)
        log.warning(
            "handler failed on attempt %d for %s (%r): retrying in %.2fs",
            attempt,
            message.message_id,
            error,
            delay,
        )
        retry_headers = {ATTEMPT_HEADER: attempt + 1, FIRST_FAILURE_HEADER: first_ms}
        if self.settings.consumer_delay_queues:
            target = self.delay_queue_name(consumer.queue, attempt)
            copy = self._copy(message, retry_headers, expiration=delay)
        else:
            # The design delay queues replace, kept as a switch for the chaos layer: the event
            # waits in this process's memory, unacknowledged and in no queue anyone can count.
            await asyncio.sleep(delay)
            target, copy = self.queue_name(consumer.queue), self._copy(message, retry_headers)
        # The copy is confirmed before the original is acked: a crash in between duplicates
        # the event, which the consumer's inbox absorbs, instead of losing it.
        await self._send(copy, target)
        RETRIES.labels(consumer.queue).inc()
        await message.ack()

    async def _dead_letter(
        self, consumer: _Consumer, message: AbstractIncomingMessage, kind: str, reason: str
    ) -> None:
        log.error("message %s dead-lettered: %s", message.message_id, reason)
        DEAD_LETTERS.labels(consumer.queue, kind).inc()
        copy = self._copy(message, {DEAD_REASON_HEADER: reason[:500]})
        try:
            await self._send(copy, self.dlq_name(consumer.queue))
        except Exception:
            if not self.ready:
                raise  # the broker redelivers it once the connection is back
            # Could not add the reason: let the broker's own dead-lettering move it.
            await message.reject(requeue=False)
            return
        await message.ack()

    def _copy(
        self,
        message: AbstractIncomingMessage,
        headers: Mapping[str, Any],
        *,
        expiration: float | None = None,
    ) -> aio_pika.Message:
        kept = {
            k: v
            for k, v in (message.headers or {}).items()
            if not any(k.startswith(prefix) for prefix in _BROKER_HEADERS)
        }
        return aio_pika.Message(
            body=message.body,
            headers={**kept, **headers},
            message_id=message.message_id,
            correlation_id=message.correlation_id,
            content_type=message.content_type,
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            type=message.type,
            expiration=expiration,
        )

    async def _send(self, message: aio_pika.Message, queue_name: str) -> None:
        """Publish straight to one queue and wait for the broker's confirm."""
        if self._channel is None:
            raise BrokerUnavailable("broker not connected")
        await self._channel.default_exchange.publish(
            message, routing_key=queue_name, mandatory=True, timeout=self.publish_timeout_s
        )

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
