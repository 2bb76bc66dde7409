"""What a provider really publishes: a private queue bound to its events exchange."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import aio_pika
from aio_pika.abc import AbstractIncomingMessage
from pact.types import Message

from contracts.serving import Served


class EventTap:
    """Runs on the served app's event loop; sync methods for the verifier's threads."""

    def __init__(self, served: Served, amqp_url: str, exchange: str, routing_keys: Sequence[str]):
        self.served = served
        self.amqp_url = amqp_url
        self.exchange = exchange
        self.routing_keys = tuple(routing_keys)
        self._connection: aio_pika.abc.AbstractConnection | None = None
        self._queue: aio_pika.abc.AbstractQueue | None = None

    def start(self) -> None:
        self.served.run(self._start())

    async def _start(self) -> None:
        self._connection = await aio_pika.connect(self.amqp_url, timeout=5)
        channel = await self._connection.channel()
        # Exclusive: gone with the connection. Not auto-delete, which would drop the queue
        # (and every event after it) as soon as one wait stops consuming.
        self._queue = await channel.declare_queue(exclusive=True)
        for key in self.routing_keys:
            await self._queue.bind(self.exchange, routing_key=key)

    def stop(self) -> None:
        if self._connection is not None:
            self.served.run(self._connection.close())

    def wait_for(self, wanted: Callable[[dict[str, Any]], bool], timeout: float = 10.0) -> Message:
        """The first published event for which `wanted(event)` holds, as a Pact message."""
        incoming = self.served.run(self._wait_for(wanted, within=timeout), timeout=timeout + 2)
        metadata = {"routing_key": incoming.routing_key, "content_type": incoming.content_type}
        return Message(
            contents=incoming.body, metadata=metadata, content_type=incoming.content_type
        )

    async def _wait_for(
        self, wanted: Callable[[dict[str, Any]], bool], *, within: float
    ) -> AbstractIncomingMessage:
        assert self._queue is not None, "EventTap.start() first"
        async with asyncio.timeout(within):
            async with self._queue.iterator() as messages:
                async for message in messages:
                    await message.ack()
                    if wanted(json.loads(message.body)):
                        return message
        raise TimeoutError("no matching event was published")
