"""Response bodies of the notifications API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel


class NotificationOut(BaseModel):
    id: uuid.UUID
    event_id: str
    event_type: str
    user_id: uuid.UUID
    booking_id: uuid.UUID | None
    channel: str
    recipient: str
    subject: str
    body: str
    sent_at: datetime
