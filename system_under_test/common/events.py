"""The event envelope that crosses the broker: `{event_id, type, occurred_at, data}`."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any


def make_event(type: str, data: dict[str, Any]) -> dict[str, Any]:
    """A new event; `type` is also its routing key, `event_id` its AMQP `message_id`."""
    return {
        "event_id": str(uuid.uuid4()),
        "type": type,
        "occurred_at": datetime.now(UTC).isoformat(),
        "data": data,
    }
