"""Sent messages, and the inbox of events handled, in PostgreSQL (the caller's unit of work)."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncConnection

from system_under_test.common.inbox import first_delivery

from .domain import Message, MessageFilter
from .orm import notifications


@dataclass(frozen=True, slots=True)
class SentMessage:
    id: uuid.UUID
    message: Message
    sent_at: datetime


class NotificationRepository(Protocol):
    async def first_delivery(self, event_id: str, consumer: str, *, dedupe: bool) -> bool:
        """Record that `consumer` got `event_id`; False when it had before (and `dedupe`)."""
        ...

    async def add(self, message: Message, sent_at: datetime) -> SentMessage: ...

    async def find(self, wanted: MessageFilter) -> list[SentMessage]: ...


class SqlNotificationRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def first_delivery(self, event_id: str, consumer: str, *, dedupe: bool) -> bool:
        return await first_delivery(self.conn, event_id, consumer, dedupe=dedupe)

    async def add(self, message: Message, sent_at: datetime) -> SentMessage:
        sent = SentMessage(id=uuid.uuid4(), message=message, sent_at=sent_at)
        await self.conn.execute(
            notifications.insert().values(
                id=sent.id,
                event_id=message.event_id,
                event_type=message.event_type,
                user_id=message.user_id,
                booking_id=message.booking_id,
                channel=message.channel,
                recipient=message.recipient,
                subject=message.subject,
                body=message.body,
                sent_at=sent_at,
            )
        )
        return sent

    async def find(self, wanted: MessageFilter) -> list[SentMessage]:
        t = notifications
        query = select(t).order_by(t.c.sent_at, t.c.id)
        if wanted.limit is not None:
            query = query.limit(wanted.limit)
        if wanted.booking_id is not None:
            query = query.where(t.c.booking_id == wanted.booking_id)
        if wanted.user_id is not None:
            query = query.where(t.c.user_id == wanted.user_id)
        if wanted.event_type is not None:
            query = query.where(t.c.event_type == wanted.event_type)
        rows = (await self.conn.execute(query)).all()
        return [
            SentMessage(
                id=row.id,
                message=Message(
                    event_id=row.event_id,
                    event_type=row.event_type,
                    user_id=row.user_id,
                    booking_id=row.booking_id,
                    channel=row.channel,
                    recipient=row.recipient,
                    subject=row.subject,
                    body=row.body,
                ),
                sent_at=row.sent_at,
            )
            for row in rows
        ]
