"""Use cases of notifications: handle an event once, list what was sent."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from prometheus_client import Counter

from system_under_test.common.uow import UnitOfWork

from .domain import MessageFilter, compose
from .repository import NotificationRepository, SentMessage

CONSUMER = "notifications"
log = logging.getLogger(__name__)

EVENTS_HANDLED = Counter(
    "faultline_notifications_events_total",
    "Events handled by notifications: sent a message, or skipped as a redelivery",
    ["outcome"],
)


def _now() -> datetime:
    return datetime.now(UTC)


class NotificationService:
    def __init__(
        self,
        uow: UnitOfWork[NotificationRepository],
        *,
        dedupe: bool = True,
        clock: Callable[[], datetime] = _now,
    ) -> None:
        self.uow = uow
        self.dedupe = dedupe
        self.clock = clock

    async def handle(self, event: dict[str, Any]) -> SentMessage | None:
        """Send the event's message unless this event was handled before (None then).

        A malformed or unsupported event raises `MalformedEvent` / `UnsupportedEvent` before
        anything is written (the consumer dead-letters it at once); a database failure raises
        the driver's error, which the consumer retries after a backoff.
        """
        message = compose(event)
        async with self.uow.transaction() as tx:
            # Same transaction as the send record: a crash in between leaves neither.
            if not await tx.repo.first_delivery(message.event_id, CONSUMER, dedupe=self.dedupe):
                EVENTS_HANDLED.labels("duplicate").inc()
                log.info("event %s already handled: skipped", message.event_id)
                return None
            sent = await tx.repo.add(message, self.clock())
        EVENTS_HANDLED.labels("sent").inc()
        log.info("sent %s %s to %s", message.channel, message.event_type, message.recipient)
        return sent

    async def find(self, wanted: MessageFilter) -> list[SentMessage]:
        async with self.uow.statement() as tx:
            return await tx.repo.find(wanted)
