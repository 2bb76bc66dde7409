"""notifications -> users, bookings: the events notifications turns into messages.

Each message is handed to notifications' real consumer (`consumer.on_event`, which records
the message in its own database) exactly as the broker would deliver it.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from pact import Pact, match

from contracts.consumer.shapes import JSON, timestamp
from contracts.consumer.shapes import uuid as uuid_like
from contracts.pactfiles import PACT_DIR
from contracts.serving import Served, serve
from system_under_test.notifications.app import build_app
from system_under_test.notifications.consumer import QUEUE, consumer, on_event
from system_under_test.notifications.domain import MessageFilter
from system_under_test.notifications.service import NotificationService
from system_under_test.notifications.settings import NotificationsSettings

pytestmark = pytest.mark.contract

USER_ID = "6f1c2b8e-3d4a-4e5f-9a7b-1c2d3e4f5a60"
BOOKING_ID = "3a9d5c7e-1b2f-4c6d-8e0a-2b4c6d8e0f1a"
FACILITY_ID = "9e8d7c6b-5a4f-4e3d-9c2b-1a0f9e8d7c6b"


def envelope(event_type: str, data: dict[str, Any]) -> dict[str, Any]:
    return {
        # One example id per type: notifications handles an event id once only.
        "event_id": uuid_like(str(uuid.uuid5(uuid.NAMESPACE_URL, event_type))),
        "type": event_type,
        "occurred_at": timestamp("2030-05-01T09:59:58.123456+00:00"),
        "data": data,
    }


def booking_data(status: str, reason: str | None) -> dict[str, Any]:
    data: dict[str, Any] = {
        "booking_id": uuid_like(BOOKING_ID),
        "user_id": uuid_like(USER_ID),
        "facility_id": uuid_like(FACILITY_ID),
        "starts_at": timestamp("2030-05-01T10:00:00+00:00"),
        "ends_at": timestamp("2030-05-01T12:00:00+00:00"),
    }
    if reason is not None:
        data["reason"] = match.str(reason)
    return data


@pytest.fixture(scope="module")
def notifications(sandbox) -> Iterator[tuple[Served, Any]]:
    sandbox.consumers.append(QUEUE)
    app = build_app(NotificationsSettings(**sandbox.settings("notifications")))
    with serve(app) as served:
        yield served, app


def deliver(served: Served, app: Any, body: str | bytes | None, metadata: dict[str, Any]):
    """What the broker does with a published event: route it by key, hand it to on_event."""
    assert metadata.get("routing_key") in consumer.routing_keys, (
        f"routing key {metadata.get('routing_key')!r} does not reach queue {QUEUE!r}"
    )
    event = json.loads(body or b"")
    served.run(on_event(app, event))
    return event


def sent_for(served: Served, app: Any, event: dict[str, Any]):
    service: NotificationService = app.state.service
    user_id = uuid.UUID(event["data"]["user_id"])
    sent = served.run(service.find(MessageFilter(user_id=user_id, event_type=event["type"])))
    return [s for s in sent if s.message.event_id == event["event_id"]]


def test_user_created_sends_a_welcome(notifications):
    served, app = notifications
    pact = Pact("notifications", "users")
    (
        pact.upon_receiving("a user.created event", "Async")
        .with_body(
            envelope(
                "user.created",
                {
                    "user_id": uuid_like(USER_ID),
                    "email": match.str("ann.smith@example.com"),
                    "name": match.str("Ann Smith"),
                },
            ),
            content_type=JSON,
        )
        .with_metadata(routing_key="user.created")
    )
    handled = []
    pact.verify(lambda body, meta: handled.append(deliver(served, app, body, meta)), "Async")
    [event] = handled
    [sent] = sent_for(served, app, event)
    assert sent.message.recipient == "ann.smith@example.com"
    assert "Ann Smith" in sent.message.body
    pact.write_file(PACT_DIR)


@pytest.mark.parametrize(
    ("event_type", "reason", "subject"),
    [
        ("booking.confirmed", None, "Your booking is confirmed"),
        ("booking.cancelled", "payment_declined", "Your booking was cancelled"),
        ("booking.rejected", "slot_unavailable", "Your booking could not be made"),
    ],
)
def test_booking_outcome_is_told_to_the_user(notifications, event_type, reason, subject):
    served, app = notifications
    pact = Pact("notifications", "bookings")
    (
        pact.upon_receiving(f"a {event_type} event", "Async")
        .with_body(envelope(event_type, booking_data(event_type, reason)), content_type=JSON)
        .with_metadata(routing_key=event_type)
    )
    handled = []
    pact.verify(lambda body, meta: handled.append(deliver(served, app, body, meta)), "Async")
    [event] = handled
    [sent] = sent_for(served, app, event)
    assert sent.message.subject == subject
    assert str(sent.message.booking_id) == BOOKING_ID
    if reason:
        assert reason.replace("_", " ") in sent.message.body
    pact.write_file(PACT_DIR)
