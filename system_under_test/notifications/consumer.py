"""The queue notifications consumes: `<namespace>.notifications`, bound to every event
it turns into a message."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from system_under_test.common.app import Consumer

from .domain import HANDLED_EVENTS
from .service import NotificationService

QUEUE = "notifications"


async def on_event(app: FastAPI, event: dict[str, Any]) -> None:
    settings = app.state.settings
    await NotificationService(app.state.db, dedupe=settings.consumer_dedupe).handle(event)


consumer = Consumer(queue=QUEUE, routing_keys=HANDLED_EVENTS, handler=on_event)
