"""What message each event produces. No framework or I/O imports.

The events carry everything a message needs, so notifications never calls another
service: a booking event without an email is addressed to the user id, and the
delivery channel resolves that address.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

USER_CREATED = "user.created"
BOOKING_CONFIRMED = "booking.confirmed"
BOOKING_CANCELLED = "booking.cancelled"
BOOKING_REJECTED = "booking.rejected"
HANDLED_EVENTS = (USER_CREATED, BOOKING_CONFIRMED, BOOKING_CANCELLED, BOOKING_REJECTED)

EMAIL = "email"
MAX_EVENT_ID_LENGTH = 64
MAX_RECIPIENT_LENGTH = 320


class MalformedEvent(ValueError):
    """The message is not an event this service can read (missing or invalid fields)."""


class UnsupportedEvent(ValueError):
    """A well-formed event of a type this service does not handle."""


@dataclass(frozen=True, slots=True)
class Message:
    event_id: str
    event_type: str
    user_id: uuid.UUID
    booking_id: uuid.UUID | None
    channel: str
    recipient: str
    subject: str
    body: str


@dataclass(frozen=True, slots=True)
class MessageFilter:
    """Which sent messages a reader wants: those matching every field given, oldest first,
    at most `limit` of them."""

    booking_id: uuid.UUID | None = None
    user_id: uuid.UUID | None = None
    event_type: str | None = None
    limit: int | None = None

    def matches(self, message: Message) -> bool:
        return (
            (self.booking_id is None or message.booking_id == self.booking_id)
            and (self.user_id is None or message.user_id == self.user_id)
            and (self.event_type is None or message.event_type == self.event_type)
        )


def _uuid(data: Mapping[str, Any], key: str) -> uuid.UUID:
    value = data.get(key)
    if value is None:
        raise MalformedEvent(f"data.{key} is missing")
    try:
        return uuid.UUID(str(value))
    except ValueError:
        raise MalformedEvent(f"data.{key} {value!r} is not a UUID") from None


def _text(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    if not isinstance(value, str):
        return None
    _storable(value, f"data.{key}")
    return value.strip() or None


def _storable(value: str, field: str) -> None:
    # The database refuses NUL and the driver lone surrogates: such an event can never be
    # recorded, so it is refused here rather than failing in the database on every retry.
    if any(ch == "\x00" or 0xD800 <= ord(ch) <= 0xDFFF for ch in value):
        raise MalformedEvent(f"{field} contains characters that cannot be stored")


def _email(data: Mapping[str, Any]) -> str | None:
    email = _text(data, "email")
    if email is not None and len(email) > MAX_RECIPIENT_LENGTH:
        raise MalformedEvent(f"data.email is longer than {MAX_RECIPIENT_LENGTH} characters")
    return email


def _booking_summary(data: Mapping[str, Any]) -> str:
    when = ""
    if _text(data, "starts_at") and _text(data, "ends_at"):
        when = f" from {data['starts_at']} to {data['ends_at']}"
    where = f" at facility {data['facility_id']}" if _text(data, "facility_id") else ""
    return f"booking {data['booking_id']}{where}{when}"


def compose(event: Mapping[str, Any]) -> Message:
    """The message an event asks for, or MalformedEvent / UnsupportedEvent."""
    if not isinstance(event, Mapping):
        raise MalformedEvent("an event is a JSON object")
    event_id = event.get("event_id")
    event_type = event.get("type")
    data = event.get("data")
    if not isinstance(event_id, str) or not event_id.strip():
        raise MalformedEvent("event_id is missing")
    if len(event_id) > MAX_EVENT_ID_LENGTH:
        raise MalformedEvent(f"event_id is longer than {MAX_EVENT_ID_LENGTH} characters")
    _storable(event_id, "event_id")
    if not isinstance(event_type, str) or not event_type:
        raise MalformedEvent("type is missing")
    if event_type not in HANDLED_EVENTS:
        raise UnsupportedEvent(f"notifications does not handle {event_type!r}")
    if not isinstance(data, Mapping):
        raise MalformedEvent("data must be an object")

    user_id = _uuid(data, "user_id")
    if event_type == USER_CREATED:
        email = _email(data)
        if email is None:
            raise MalformedEvent("data.email is missing")
        name = _text(data, "name") or "there"
        return Message(
            event_id=event_id,
            event_type=event_type,
            user_id=user_id,
            booking_id=None,
            channel=EMAIL,
            recipient=email,
            subject="Welcome to Funeral Manager",
            body=f"Hello {name}, your account is ready.",
        )

    booking_id = _uuid(data, "booking_id")
    summary = _booking_summary(data)
    reason = _text(data, "reason")
    because = f" ({reason.replace('_', ' ')})" if reason else ""
    subject, body = {
        BOOKING_CONFIRMED: ("Your booking is confirmed", f"Your {summary} is confirmed."),
        BOOKING_CANCELLED: (
            "Your booking was cancelled",
            f"Your {summary} was cancelled{because}. Any payment taken is refunded.",
        ),
        BOOKING_REJECTED: (
            "Your booking could not be made",
            f"Your {summary} could not be made{because}. You have not been charged.",
        ),
    }[event_type]
    return Message(
        event_id=event_id,
        event_type=event_type,
        user_id=user_id,
        booking_id=booking_id,
        channel=EMAIL,
        recipient=_email(data) or f"user:{user_id}",
        subject=subject,
        body=body,
    )
