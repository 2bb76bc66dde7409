"""The booking suite end to end: every request through the gateway, every edge through a proxy."""

from __future__ import annotations

import json
import secrets
import uuid
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from harness.audit import wait_quiet_stack
from harness.suite_client import (
    DECLINED_CARD,
    GOOD_CARD,
    Answer,
    Booking,
    Slot,
    SuiteClient,
    SuiteError,
    wait_until,
)

pytestmark = pytest.mark.e2e

QUIET_TIMEOUT_S = 30.0


@pytest.fixture
def client(faultline_stack: Any) -> Iterator[SuiteClient]:
    with SuiteClient.for_stack(faultline_stack) as client:
        client.login()
        yield client


@dataclass(frozen=True)
class Family:
    """A user and a facility of one test, booking through `client`."""

    client: SuiteClient
    user_id: str
    facility_id: str

    def book(self, slot: Slot, payment_method: str = GOOD_CARD) -> Booking:
        placed = self.client.book(
            self.user_id, self.facility_id, slot, payment_method=payment_method
        )
        return self.client.wait_settled([placed.id])[placed.id]

    def reserved(self, *slots: Slot) -> set[str]:
        days = {slot.day for slot in slots}
        return set().union(
            *(self.client.availability(self.facility_id, d).booking_ids for d in days)
        )


@pytest.fixture
def family(client: SuiteClient) -> Family:
    user = client.create_user(f"e2e-{secrets.token_hex(5)}@example.com", "E2E family")
    hall = client.create_facility("Hall", 40)
    return Family(client, user.id, hall.id)


def _is_problem(answer: Answer[Any], status: int) -> dict[str, Any]:
    assert answer.status == status, answer.body
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.problem
    assert body is not None and body["status"] == status and body["title"]
    return body


def test_free_slot_is_confirmed_and_held(family: Family):
    slot = family.client.slots.take()
    booking = family.book(slot)
    assert booking.status == "confirmed", booking
    assert booking.id in family.reserved(slot)
    details = family.client.booking_details(booking.id)
    assert details.payment is not None and details.payment.status == "captured"
    assert details.user is not None and details.user.id == family.user_id
    assert details.facility is not None and details.facility.id == family.facility_id


def test_taken_slot_is_rejected_and_nothing_is_charged(family: Family):
    slot = family.client.slots.take()
    first = family.book(slot)
    second = family.book(slot)  # the same slot, on purpose
    assert first.status == "confirmed"
    assert (second.status, second.reason) == ("rejected", "slot_unavailable")
    assert family.reserved(slot) == {first.id}
    assert family.client.booking_details(second.id).payment is None


def test_declined_card_cancels_the_booking_and_releases_the_slot(family: Family):
    slot = family.client.slots.take()
    declined = family.book(slot, payment_method=DECLINED_CARD)
    assert (declined.status, declined.reason) == ("cancelled", "payment_declined")
    assert declined.id not in family.reserved(slot)
    # The compensation really freed the slot: another booking gets it.
    retry = family.book(slot)
    assert retry.status == "confirmed"
    assert family.reserved(slot) == {retry.id}


def test_cancelling_a_confirmed_booking_refunds_and_releases(family: Family):
    client, slot = family.client, family.client.slots.take()
    booking = family.book(slot)
    assert booking.status == "confirmed"
    cancelling = client.cancel(booking.id)
    state = client.wait_settled([cancelling.id])[booking.id]
    assert (state.status, state.settled) == ("cancelled", True)
    details = client.booking_details(booking.id)
    assert details.payment is not None and details.payment.status == "refunded"
    assert booking.id not in family.reserved(slot)


def test_same_idempotency_key_returns_the_same_booking(family: Family):
    client, slot, key = family.client, family.client.slots.take(), str(uuid.uuid4())
    first = client.try_book(family.user_id, family.facility_id, slot, key=key)
    again = client.try_book(family.user_id, family.facility_id, slot, key=key)
    assert first.status in (201, 202) and again.status in (200, 201, 202)
    assert first.booking_id is not None and again.booking_id == first.booking_id
    assert client.wait_settled([first.booking_id])[first.booking_id].status == "confirmed"
    assert family.reserved(slot) == {first.booking_id}


def test_every_outcome_is_notified_exactly_once(family: Family, faultline_stack: Any):
    """Confirmed, cancelled after confirming, rejected, declined: once the suite is provably
    quiet, each booking has exactly one message per event it went through, so a duplicate or
    a missing message fails."""
    client = family.client
    kept_slot, cancelled_slot, declined_slot = client.slots.take_many(3)
    kept = family.book(kept_slot)
    cancelled = family.book(cancelled_slot)
    rejected = family.book(kept_slot)  # the same slot, on purpose
    declined = family.book(declined_slot, payment_method=DECLINED_CARD)
    client.cancel(cancelled.id)
    final = client.wait_settled([cancelled.id])[cancelled.id]
    outcomes = [(b.status, b.reason) for b in (kept, cancelled, rejected, declined)]
    assert outcomes == [
        ("confirmed", None),
        ("confirmed", None),
        ("rejected", "slot_unavailable"),
        ("cancelled", "payment_declined"),
    ]
    assert (final.status, final.settled) == ("cancelled", True)

    assert wait_quiet_stack(faultline_stack, timeout=QUIET_TIMEOUT_S), "the suite never went quiet"
    # Read from the notifications service itself (the gateway does not serve them).
    with SuiteClient.for_stack(faultline_stack, public=False) as services:
        sent = services.notifications(user_id=family.user_id)
        by_booking = {
            b.id: sorted(n.event_type for n in services.notifications(booking_id=b.id))
            for b in (kept, cancelled, rejected, declined)
        }
    assert Counter((n.booking_id, n.event_type) for n in sent) == Counter(
        [
            (None, "user.created"),
            (kept.id, "booking.confirmed"),
            (cancelled.id, "booking.confirmed"),
            (cancelled.id, "booking.cancelled"),
            (rejected.id, "booking.rejected"),
            (declined.id, "booking.cancelled"),
        ]
    )
    assert by_booking == {
        kept.id: ["booking.confirmed"],
        cancelled.id: ["booking.cancelled", "booking.confirmed"],
        rejected.id: ["booking.rejected"],
        declined.id: ["booking.cancelled"],
    }


def test_bad_input_is_a_4xx_problem_never_a_500(family: Family):
    client, user, hall = family.client, family.user_id, family.facility_id
    slot = client.slots.take()
    headers = {"Idempotency-Key": str(uuid.uuid4()), "content-type": "application/json"}
    _is_problem(client.send("POST", "/api/bookings", content=b'{"user_id": ', headers=headers), 400)
    backwards = Slot(slot.ends_at, slot.starts_at)
    _is_problem(client.try_book(user, hall, backwards), 422)
    _is_problem(client.try_book(user, hall, slot, amount_cents=-5), 422)
    _is_problem(client.try_book(str(uuid.uuid4()), hall, slot), 422)
    _is_problem(client.try_booking("not-an-id"), 422)
    _is_problem(client.try_booking(str(uuid.uuid4())), 404)
    refusals = {
        404: lambda: client.get_user(str(uuid.uuid4())),
        422: lambda: client.create_facility("x", 0),
        413: lambda: client.create_facility("x" * 200_000, 3),
    }
    for status, call in refusals.items():
        with pytest.raises(SuiteError) as refused:
            call()
        _is_problem(refused.value.answer, status)
    assert family.reserved(slot) == set()


def test_missing_or_bad_token_is_401(faultline_stack: Any):
    with SuiteClient.for_stack(faultline_stack) as anonymous:
        with pytest.raises(SuiteError) as no_token:
            anonymous.facilities()
        _is_problem(no_token.value.answer, 401)
        with pytest.raises(SuiteError) as wrong_password:
            anonymous.login("demo", "x")
        _is_problem(wrong_password.value.answer, 401)
        assert anonymous.token is None
        # Health, readiness and the OpenAPI document stay open.
        assert [
            anonymous.send("GET", p).status for p in ("/health", "/ready", "/openapi.json")
        ] == [
            200,
            200,
            200,
        ]
    with SuiteClient.for_stack(faultline_stack, token="not-a-token") as forged:
        _is_problem(forged.try_facilities(), 401)


def _logged_with(path: Any, correlation_id: str) -> bool:
    with open(path, encoding="utf-8") as log:
        for line in log:
            if correlation_id in line:
                try:
                    if json.loads(line).get("correlation_id") == correlation_id:
                        return True
                except json.JSONDecodeError:
                    continue
    return False


def test_one_correlation_id_crosses_every_http_and_amqp_hop(family: Family, faultline_stack):
    # gateway -> users/facilities/bookings over HTTP, bookings -> facilities/payments over
    # HTTP, bookings -> notifications over the outbox and RabbitMQ: one id in every JSON log.
    correlation_id = f"e2e-{secrets.token_hex(8)}"
    answer = family.client.try_book(
        family.user_id, family.facility_id, correlation_id=correlation_id
    )
    assert answer.status in (201, 202), answer.body
    assert answer.headers["X-Correlation-ID"] == correlation_id
    hops = ["gateway", "users", "facilities", "payments", "bookings", "notifications"]
    missing = hops

    def every_hop_logged() -> bool:
        nonlocal missing
        missing = [s for s in hops if not _logged_with(faultline_stack.log_path(s), correlation_id)]
        return not missing

    assert wait_until(every_hop_logged, 20.0, 0.2), (
        f"no JSON log line with correlation_id {correlation_id} in {missing}"
    )
