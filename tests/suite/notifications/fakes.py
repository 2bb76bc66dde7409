"""notifications' repository in memory (the rules `SqlNotificationRepository` keeps: an event
passes the inbox once per consumer; messages listed oldest first)."""

from __future__ import annotations

import uuid
from datetime import datetime

from system_under_test.notifications.domain import Message, MessageFilter
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

    async def find(self, wanted: MessageFilter) -> list[SentMessage]:
        ordered = sorted(self.sent, key=lambda s: (s.sent_at, str(s.id)))
        found = [s for s in ordered if wanted.matches(s.message)]
        return found if wanted.limit is None else found[: wanted.limit]
