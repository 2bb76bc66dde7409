"""HTTP routes of notifications (read-only: messages are sent from events)."""

from __future__ import annotations

import uuid
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query

from system_under_test.common.app import service_layer
from system_under_test.common.problems import problem_responses

from .domain import HANDLED_EVENTS, MessageFilter
from .schemas import NotificationOut
from .service import NotificationService

router = APIRouter(tags=["notifications"])

EventType = Literal[HANDLED_EVENTS]  # type: ignore[valid-type]
Service = Annotated[NotificationService, Depends(service_layer)]


@router.get(
    "/notifications",
    response_model=list[NotificationOut],
    summary="Messages sent, oldest first",
    responses=problem_responses(422),
)
async def list_notifications(
    service: Service,
    booking_id: uuid.UUID | None = None,
    user_id: uuid.UUID | None = None,
    event_type: EventType | None = None,
    limit: Annotated[int | None, Query(ge=1, le=100_000)] = None,
) -> list[NotificationOut]:
    wanted = MessageFilter(booking_id, user_id, event_type, limit)
    sent = await service.find(wanted)
    return [
        NotificationOut(
            id=s.id,
            event_id=s.message.event_id,
            event_type=s.message.event_type,
            user_id=s.message.user_id,
            booking_id=s.message.booking_id,
            channel=s.message.channel,
            recipient=s.message.recipient,
            subject=s.message.subject,
            body=s.message.body,
            sent_at=s.sent_at,
        )
        for s in sent
    ]
