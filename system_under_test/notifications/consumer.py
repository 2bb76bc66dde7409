"""The queue notifications consumes: `<namespace>.notifications`, bound to every event
it turns into a message."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from system_under_test.common.app import Consumer
from system_under_test.common.messaging import PoisonMessage

from .domain import HANDLED_EVENTS, MalformedEvent, UnsupportedEvent
from .service import NotificationService

QUEUE = "notifications"


async def on_event(app: FastAPI, event: dict[str, Any]) -> None:
    service: NotificationService = app.state.service
    try:
        await service.handle(event)
    except (MalformedEvent, UnsupportedEvent) as exc:
        # No retry can fix the event itself: straight to the dead-letter queue. Anything else
        # (the database away, say) is transient and retried from a delay queue.
        raise PoisonMessage(str(exc)) from exc


consumer = Consumer(queue=QUEUE, routing_keys=HANDLED_EVENTS, handler=on_event)
