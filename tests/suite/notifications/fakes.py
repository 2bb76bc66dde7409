"""notifications' repository in memory (the rules `SqlNotificationRepository` keeps: an event
passes the inbox once per consumer; messages listed oldest first)."""

from __future__ import annotations

import uuid
from datetime import datetime

from system_under_test.notifications.domain import Message
from system_under_test.notifications.repository import SentMessage


class FakeNotificationRepository:
    def __init__(self) -> None:
        self.inbox: set[tuple[str, str]] = set()
        self.sent: list[SentMessage] = []

    async def first_delivery(self, event_id: str, consumer: str, *, dedupe: bool) -> bool:
        first = (event_id, consumer) not in self.inbox
        self.inbox.add((event_id, consumer))
        return first or not dedupe

    async def add(self, message: Message, sent_at: datetime) -> SentMessage:
        sent = SentMessage(id=uuid.uuid4(), message=message, sent_at=sent_at)
        self.sent.append(sent)
        return sent

    async def find(
        self,
        *,
        booking_id: uuid.UUID | None = None,
        user_id: uuid.UUID | None = None,
        event_type: str | None = None,
        limit: int | None = None,
    ) -> list[SentMessage]:
        found = [
            s
            for s in sorted(self.sent, key=lambda s: (s.sent_at, str(s.id)))
            if (booking_id is None or s.message.booking_id == booking_id)
            and (user_id is None or s.message.user_id == user_id)
            and (event_type is None or s.message.event_type == event_type)
        ]
        return found if limit is None else found[:limit]
