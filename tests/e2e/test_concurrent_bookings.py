"""Dozens of bookings in flight through the gateway of a real stack (every edge proxied): one
slot, one key, distinct slots, and more than the gateway admits at once."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest

from harness.audit import audit_stack
from harness.suite_client import Answer, AsyncSuiteClient, Booking, Slot
from system_under_test.gateway.settings import GatewaySettings

pytestmark = pytest.mark.e2e

GATEWAY_BOUND = GatewaySettings().max_in_flight


@dataclass(frozen=True)
class Family:
    """A user and a facility, booking through one async client."""

    client: AsyncSuiteClient
    user_id: str
    facility_id: str

    async def book(self, slot: Slot, key: str | None = None) -> Answer[Booking]:
        return await self.client.try_book(self.user_id, self.facility_id, slot, key=key)

    async def settled(self, answers: list[Answer[Booking]]) -> list[Booking]:
        """Each answered booking once its saga finished (a 202 is still pending)."""
        ids = [a.booking_id for a in answers if a.booking_id]
        final = await self.client.wait_terminal(ids, timeout=30.0)
        return [final[i] for i in ids]


@pytest.fixture
async def family(faultline_stack: Any) -> AsyncIterator[Family]:
    async with AsyncSuiteClient.for_stack(faultline_stack, timeout=60.0) as client:
        await client.login()
        user, hall = await asyncio.gather(
            client.create_user(name="Many hands"), client.create_facility("Busy hall", 90)
        )
        yield Family(client, user.id, hall.id)


@pytest.fixture
def breaker_for_bookings(family: Family) -> Callable[[], Awaitable[tuple[str, float]]]:
    """(breaker state, calls refused by an open breaker so far) of gateway->bookings."""

    async def read() -> tuple[str, float]:
        samples = await family.client.metrics("gateway")
        refused = samples.value(
            "faultline_downstream_requests_total", downstream="bookings", outcome="breaker_open"
        )
        return samples.breaker_state("bookings"), refused

    return read


def _no_5xx(answers: list[Answer[Booking]]) -> None:
    assert all(a.status is not None and a.status < 500 for a in answers), [
        a.describe() for a in answers if not (a.status and a.status < 500)
    ]


async def test_thirty_bookings_of_one_slot_confirm_exactly_one(family: Family):
    slot = family.client.slots.take()
    answers = await asyncio.gather(*(family.book(slot) for _ in range(30)))
    _no_5xx(answers)
    final = await family.settled(answers)
    outcomes = sorted((b.status, b.reason) for b in final)
    assert outcomes == [("confirmed", None)] + [("rejected", "slot_unavailable")] * 29


async def test_twenty_requests_sharing_a_key_make_one_booking(family: Family):
    slot, key = family.client.slots.take(), uuid.uuid4().hex
    answers = await asyncio.gather(*(family.book(slot, key) for _ in range(20)))
    assert all(a.status in (200, 201) for a in answers), [a.describe() for a in answers]
    first = answers[0].value
    assert first is not None and first.status == "confirmed"
    assert all(a.body == answers[0].body for a in answers)


async def test_thirty_bookings_of_distinct_slots_all_confirm_and_the_breaker_stays_shut(
    family: Family, breaker_for_bookings
):
    _, refused_before = await breaker_for_bookings()
    slots = family.client.slots.take_many(30)
    answers = await asyncio.gather(*(family.book(slot) for slot in slots))
    _no_5xx(answers)
    final = await family.settled(answers)
    assert {b.status for b in final} == {"confirmed"}
    assert len({b.id for b in final}) == 30
    state, refused = await breaker_for_bookings()
    assert (state, refused - refused_before) == ("closed", 0)


async def test_past_the_gateways_bound_requests_are_shed_and_nothing_is_lost(
    family: Family, faultline_stack: Any, breaker_for_bookings
):
    client = family.client
    before = await asyncio.to_thread(audit_stack, faultline_stack, wait=False)
    _, refused_before = await breaker_for_bookings()
    shed_before = (await client.metrics("gateway")).value("faultline_requests_shed_total")
    requests = [(uuid.uuid4().hex, slot) for slot in client.slots.take_many(GATEWAY_BOUND + 48)]
    answers = await asyncio.gather(*(family.book(slot, key) for key, slot in requests))
    shed = [request for request, a in zip(requests, answers, strict=True) if a.status == 503]
    # The gateway shed them itself, at its bound (how many depends on how fast the admitted
    # ones finish while the rest arrive).
    assert shed
    shed_now = (await client.metrics("gateway")).value("faultline_requests_shed_total")
    assert shed_now - shed_before == len(shed)
    for answer in answers:
        if answer.status == 503:
            assert answer.headers["content-type"] == "application/problem+json"
            assert answer.retry_after is not None and answer.retry_after >= 1
            assert answer.problem is not None and answer.problem["title"] == "Service overloaded"
        else:
            assert answer.status in (201, 202), answer.describe()
    admitted = await family.settled([a for a in answers if a.status != 503])
    assert {b.status for b in admitted} == {"confirmed"}
    state, refused = await breaker_for_bookings()
    assert (state, refused - refused_before) == ("closed", 0)

    # A client that comes back with the same keys, never more at once than the gateway
    # admits, gets every shed booking.
    room = asyncio.Semaphore(GATEWAY_BOUND // 2)

    async def again(key: str, slot: Slot) -> Answer[Booking]:
        async with room:
            return await family.book(slot, key)

    retried = await asyncio.gather(*(again(key, slot) for key, slot in shed))
    assert all(a.status in (200, 201, 202) for a in retried), [a.describe() for a in retried]
    assert {b.status for b in await family.settled(retried)} == {"confirmed"}
    report = await asyncio.to_thread(audit_stack, faultline_stack, timeout=60.0)
    assert report.since(before).passed, report.since(before).explain()
