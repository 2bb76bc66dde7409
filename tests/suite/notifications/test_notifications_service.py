"""notifications' service layer without a database: an event's message is sent once, however
often the event is delivered (unless deduplication is switched off), and a malformed event
writes nothing."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fakes import FakeUnitOfWork

from system_under_test.common.events import make_event
from system_under_test.notifications.domain import (
    MalformedEvent,
    MessageFilter,
    UnsupportedEvent,
)
from system_under_test.notifications.service import NotificationService

from .fakes import FakeNotificationRepository

pytestmark = pytest.mark.unit
USER = uuid.uuid4()


def ticking_clock():
    moments = (datetime(2030, 5, 1, tzinfo=UTC) + timedelta(seconds=n) for n in range(10_000))
    return lambda: next(moments)


def service_for(repo: FakeNotificationRepository, *, dedupe: bool = True) -> NotificationService:
    return NotificationService(FakeUnitOfWork(repo), dedupe=dedupe, clock=ticking_clock())


def confirmed(booking_id: uuid.UUID) -> dict:
    return make_event("booking.confirmed", {"booking_id": str(booking_id), "user_id": str(USER)})


async def test_a_redelivered_event_is_sent_once():
    repo = FakeNotificationRepository()
    service = service_for(repo)
    event = confirmed(uuid.uuid4())
    sent = await service.handle(event)
    assert sent is not None and sent.message.event_id == event["event_id"]
    assert await service.handle(event) is None
    assert len(repo.sent) == 1


async def test_with_deduplication_switched_off_a_redelivery_is_sent_again():
    repo = FakeNotificationRepository()
    service = service_for(repo, dedupe=False)
    event = confirmed(uuid.uuid4())
    await service.handle(event)
    await service.handle(event)
    assert len(repo.sent) == 2


@pytest.mark.parametrize(
    ("event", "error"),
    [
        (make_event("booking.confirmed", {"user_id": "not-a-uuid"}), MalformedEvent),
        (make_event("booking.refunded", {"user_id": str(USER)}), UnsupportedEvent),
    ],
)
async def test_an_event_that_can_never_be_handled_writes_nothing(event, error):
    repo = FakeNotificationRepository()
    with pytest.raises(error):
        await service_for(repo).handle(event)
    assert repo.sent == [] and repo.inbox == set()


async def test_messages_are_found_by_booking_user_and_type_oldest_first():
    repo = FakeNotificationRepository()
    service = service_for(repo)
    first, second = uuid.uuid4(), uuid.uuid4()
    await service.handle(confirmed(first))
    await service.handle(confirmed(second))
    await service.handle(
        make_event("booking.cancelled", {"booking_id": str(first), "user_id": str(USER)})
    )
    mine = await service.find(MessageFilter(user_id=USER))
    assert [(s.message.booking_id, s.message.event_type) for s in mine] == [
        (first, "booking.confirmed"),
        (second, "booking.confirmed"),
        (first, "booking.cancelled"),
    ]
    about_first = await service.find(
        MessageFilter(booking_id=first, event_type="booking.cancelled")
    )
    assert [s.message.event_type for s in about_first] == ["booking.cancelled"]
    assert len(await service.find(MessageFilter(user_id=USER, limit=2))) == 2


async def test_dozens_of_deliveries_of_one_event_in_flight_send_one_message():
    repo = FakeNotificationRepository()
    service = service_for(repo)
    event = confirmed(uuid.uuid4())
    results = await asyncio.gather(*(service.handle(event) for _ in range(30)))
    assert sum(r is not None for r in results) == 1
    assert len(repo.sent) == 1
