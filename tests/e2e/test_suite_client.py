"""The suite client against a live stack: the same operations through the gateway (public) and
straight to each service (direct), sync and async, and dozens of async bookings at once."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from harness import service_metrics
from harness.suite_client import (
    DECLINED_CARD,
    AddressingError,
    AsyncSuiteClient,
    SlotAllocator,
    SuiteClient,
    SuiteError,
)

pytestmark = pytest.mark.e2e

MODES = ["public", "direct"]
UNKNOWN = "00000000-0000-4000-8000-000000000000"


@pytest.fixture(params=MODES)
def client(request: pytest.FixtureRequest, faultline_stack: Any) -> Iterator[SuiteClient]:
    with SuiteClient.for_stack(faultline_stack, public=request.param == "public") as client:
        if client.is_public:
            client.login()
        yield client


@pytest.fixture(params=MODES)
async def aclient(
    request: pytest.FixtureRequest, faultline_stack: Any
) -> AsyncIterator[AsyncSuiteClient]:
    public = request.param == "public"
    async with AsyncSuiteClient.for_stack(faultline_stack, public=public, timeout=60.0) as client:
        if public:
            await client.login()
        yield client


def test_the_booking_flow_in_either_mode(client: SuiteClient):
    user = client.create_user(name="Client family")
    assert client.get_user(user.id) == user
    hall = client.create_facility("Client hall", 12)
    assert client.facility(hall.id) == hall
    assert hall.id in client.facilities().ids
    first, second = client.slots.take_many(2)
    booking = client.book(user.id, hall.id, first)
    confirmed = client.wait_settled([booking.id])[booking.id]
    assert (confirmed.status, confirmed.settled, confirmed.starts_at) == (
        "confirmed",
        True,
        first.starts_at,
    )
    assert client.booking(booking.id) == confirmed
    assert client.availability(hall.id, first.day).booking_ids >= {booking.id}
    declined = client.book(user.id, hall.id, second, payment_method=DECLINED_CARD)
    assert client.wait_terminal([declined.id])[declined.id].reason == "payment_declined"
    client.cancel(booking.id)
    cancelled = client.wait_settled([booking.id])[booking.id]
    assert (cancelled.status, cancelled.settled) == ("cancelled", True)
    assert booking.id not in client.availability(hall.id, first.day).booking_ids


def test_refusals_raise_with_the_status_and_problem_in_either_mode(client: SuiteClient):
    with pytest.raises(SuiteError) as unknown:
        client.booking(UNKNOWN)
    assert unknown.value.status == 404
    assert unknown.value.problem is not None and unknown.value.problem["status"] == 404
    user, hall = client.create_user(), client.create_facility()
    slot = client.slots.take()
    client.book(user.id, hall.id, slot)
    rejected = client.book(user.id, hall.id, slot)  # the same slot, on purpose
    assert client.wait_terminal([rejected.id])[rejected.id].status == "rejected"
    with pytest.raises(SuiteError) as not_cancellable:
        client.cancel(rejected.id)
    assert not_cancellable.value.status == 409
    answer = client.try_cancel(rejected.id)
    assert (answer.status, answer.ok, answer.value) == (409, False, None)


def test_each_mode_refuses_the_routes_only_the_other_has(client: SuiteClient):
    if client.is_public:
        with pytest.raises(AddressingError):
            client.bookings()
        with pytest.raises(AddressingError):
            client.charge(UNKNOWN)
    else:
        with pytest.raises(AddressingError):
            client.booking_details(UNKNOWN)
        with pytest.raises(AddressingError):
            client.login()


def test_direct_reads_of_what_each_service_keeps(faultline_stack: Any):
    with SuiteClient.for_stack(faultline_stack, public=False) as client:
        user, hall = client.create_user(), client.create_facility()
        booking = client.book(user.id, hall.id)
        booking = client.wait_settled([booking.id])[booking.id]
        assert booking.status == "confirmed"
        assert booking.id in {b.id for b in client.bookings(status="confirmed", limit=10_000)}
        assert client.reservation(booking.id).status == "confirmed"
        assert client.charge(booking.id).status == "captured"
        samples = client.metrics("bookings")
        assert samples.breaker_states() == {"facilities": "closed", "payments": "closed"}
        scraped = service_metrics.scrape(faultline_stack.url("bookings"))
        assert scraped.breaker_state("payments") == "closed"
        assert scraped.value("faultline_downstream_requests_total", downstream="payments") > 0


def test_the_gateway_composes_details_and_login_fails_cleanly(faultline_stack: Any):
    with SuiteClient.for_stack(faultline_stack) as client:
        with pytest.raises(SuiteError) as refused:
            client.login("demo", "wrong")
        assert refused.value.status == 401 and client.token is None
        client.login()
        user, hall = client.create_user(), client.create_facility()
        booking = client.book(user.id, hall.id)
        client.wait_settled([booking.id])
        details = client.booking_details(booking.id)
        assert details.booking.id == booking.id
        assert (details.user and details.user.id, details.facility and details.facility.id) == (
            user.id,
            hall.id,
        )
        assert details.payment is not None and details.payment.status == "captured"


async def test_async_flow_and_dozens_of_distinct_slots_all_confirm(aclient: AsyncSuiteClient):
    user, hall = await asyncio.gather(aclient.create_user(), aclient.create_facility())
    assert await aclient.get_user(user.id) == user
    # Fewer than the gateway admits at once, so none is shed.
    count = 30 if aclient.is_public else 48
    answers = await asyncio.gather(*(aclient.try_book(user.id, hall.id) for _ in range(count)))
    assert all(a.status in (201, 202) for a in answers), [a.describe() for a in answers]
    ids = [a.booking_id for a in answers if a.booking_id]
    final = await aclient.wait_settled(ids, timeout=60.0)
    assert len(set(ids)) == count
    assert sorted(b.status for b in final.values()) == ["confirmed"] * count
    first = final[ids[0]]
    assert first.starts_at is not None
    held = await aclient.availability(hall.id, first.starts_at.date())
    assert first.id in held.booking_ids
    with pytest.raises(SuiteError) as unknown:
        await aclient.booking(UNKNOWN)
    assert unknown.value.status == 404


async def test_partitioned_allocators_in_parallel_clients_never_collide(faultline_stack: Any):
    """Two load generators on one seed, one partition each, booking one facility at once."""
    seed = SlotAllocator().seed
    clients = [
        AsyncSuiteClient.for_stack(
            faultline_stack, public=False, slots=SlotAllocator(seed, partition=p, partitions=2)
        )
        for p in range(2)
    ]
    try:
        hall = await clients[0].create_facility("Shared hall", 10)
        user = await clients[0].create_user()
        answers = await asyncio.gather(
            *(c.try_book(user.id, hall.id) for c in clients for _ in range(15))
        )
        ids = [a.booking_id for a in answers if a.booking_id]
        final = await clients[1].wait_settled(ids, timeout=60.0)
        assert sorted(b.status for b in final.values()) == ["confirmed"] * 30
        scraped = await service_metrics.scrape_async(faultline_stack.url("facilities"))
        assert scraped.ok and scraped.has("faultline_requests_in_flight")
    finally:
        await asyncio.gather(*(c.aclose() for c in clients))
