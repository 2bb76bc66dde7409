import uuid

import pytest

from system_under_test.notifications import domain

pytestmark = pytest.mark.unit
USER = uuid.uuid4()
BOOKING = uuid.uuid4()


def event(type_: str, **data):
    return {
        "event_id": str(uuid.uuid4()),
        "type": type_,
        "occurred_at": "2030-01-01T00:00:00Z",
        "data": data,
    }


def test_user_created_greets_by_email():
    ev = event("user.created", user_id=str(USER), email="ann@example.com", name="Ann")
    msg = domain.compose(ev)
    assert msg.event_id == ev["event_id"]
    assert msg.user_id == USER
    assert msg.booking_id is None
    assert msg.channel == "email"
    assert msg.recipient == "ann@example.com"
    assert "Ann" in msg.body


@pytest.mark.parametrize(
    ("type_", "words"),
    [
        ("booking.confirmed", "confirmed"),
        ("booking.cancelled", "cancelled"),
        ("booking.rejected", "could not be made"),
    ],
)
def test_booking_events_address_the_user_id_when_no_email(type_, words):
    msg = domain.compose(
        event(type_, booking_id=str(BOOKING), user_id=str(USER), reason="payment_declined")
    )
    assert msg.event_type == type_
    assert msg.booking_id == BOOKING
    assert msg.recipient == f"user:{USER}"
    assert words in msg.body
    assert str(BOOKING) in msg.body


def test_booking_event_uses_email_and_reason_when_given():
    msg = domain.compose(
        event(
            "booking.cancelled",
            booking_id=str(BOOKING),
            user_id=str(USER),
            email="ann@example.com",
            reason="payment_declined",
        )
    )
    assert msg.recipient == "ann@example.com"
    assert "payment declined" in msg.body


def test_unknown_type_is_unsupported():
    with pytest.raises(domain.UnsupportedEvent):
        domain.compose(event("invoice.paid", user_id=str(USER)))


@pytest.mark.parametrize(
    "ev",
    [
        "not an object",
        {"type": "user.created", "data": {}},
        {"event_id": "e1", "data": {}},
        {"event_id": "e1", "type": "user.created", "data": "x"},
        {"event_id": "e1", "type": "user.created", "data": {"user_id": "nope", "email": "a@b.c"}},
        {"event_id": "e1", "type": "user.created", "data": {"user_id": str(USER)}},
        {"event_id": "e1", "type": "booking.confirmed", "data": {"user_id": str(USER)}},
    ],
)
def test_malformed_events_are_refused(ev):
    with pytest.raises(domain.MalformedEvent):
        domain.compose(ev)


def test_overlong_ids_and_addresses_are_refused():
    with pytest.raises(domain.MalformedEvent):
        domain.compose({"event_id": "e" * 65, "type": "user.created", "data": {}})
    with pytest.raises(domain.MalformedEvent):
        domain.compose(event("user.created", user_id=str(USER), email="a" * 320 + "@b.c"))


def test_text_that_cannot_be_stored_is_refused():
    with pytest.raises(domain.MalformedEvent):
        domain.compose(event("user.created", user_id=str(USER), email="a@b.c", name="A\x00n"))
