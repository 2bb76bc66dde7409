"""Dozens of bookings in flight through the gateway of a real stack (every edge proxied): one
slot, one key, distinct slots, and more than the gateway admits at once."""

from __future__ import annotations

import asyncio
import secrets
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from tenacity import AsyncRetrying, retry_if_result, stop_after_delay, wait_fixed

from harness.audit import audit_stack
from system_under_test.gateway.settings import GatewaySettings

pytestmark = pytest.mark.e2e

GATEWAY_BOUND = GatewaySettings().max_in_flight


class Family:
    """A user and a facility, and bookings of slots on one day far ahead."""

    def __init__(self, client: httpx.AsyncClient, user_id: str, facility_id: str) -> None:
        self.client = client
        self.user_id = user_id
        self.facility_id = facility_id
        self.day = datetime(2031, 1, 1, tzinfo=UTC) + timedelta(days=secrets.randbelow(20000))

    def body(self, slot: int) -> dict[str, Any]:
        start = self.day + timedelta(minutes=30 * slot)
        return {
            "user_id": self.user_id,
            "facility_id": self.facility_id,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(minutes=30)).isoformat(),
            "amount_cents": 25000,
            "payment_method": "pm_card_visa",
        }

    async def book(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        return await self.client.post("/api/bookings", json=body, headers=headers)

    async def settled(self, answer: httpx.Response) -> dict[str, Any]:
        """The booking once its saga finished (a 202 is still pending)."""
        booking = answer.json()
        if booking["status"] != "pending":
            return booking
        polling = AsyncRetrying(
            retry=retry_if_result(lambda b: b["status"] == "pending"),
            wait=wait_fixed(0.1),
            stop=stop_after_delay(30),
            reraise=True,
        )
        return await polling(self._current, booking["id"])

    async def _current(self, booking_id: str) -> dict[str, Any]:
        return (await self.client.get(f"/api/bookings/{booking_id}")).json()


@pytest.fixture
async def family(faultline_stack: Any, gateway_token: str) -> AsyncIterator[Family]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with httpx.AsyncClient(
        base_url=faultline_stack.gateway_url,
        headers={"Authorization": f"Bearer {gateway_token}"},
        timeout=60.0,
        limits=limits,
    ) as client:
        email = f"many-{secrets.token_hex(5)}@example.com"
        user = await client.post("/api/users", json={"email": email, "name": "Many hands"})
        hall = await client.post("/api/facilities", json={"name": "Busy hall", "capacity": 90})
        assert user.status_code == hall.status_code == 201
        yield Family(client, user.json()["id"], hall.json()["id"])


def _gateway_metric(stack: Any, name: str, **labels: str) -> float:
    text = httpx.get(f"{stack.gateway_url}/metrics", timeout=10).text
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == name and labels.items() <= sample.labels.items()
    )


@pytest.fixture
def breaker_for_bookings(faultline_stack: Any) -> Callable[[], tuple[float, float]]:
    """(breaker state 0/1/2, calls refused by an open breaker so far) of gateway->bookings."""

    def read() -> tuple[float, float]:
        state = _gateway_metric(faultline_stack, "faultline_breaker_state", downstream="bookings")
        refused = _gateway_metric(
            faultline_stack,
            "faultline_downstream_requests_total",
            downstream="bookings",
            outcome="breaker_open",
        )
        return state, refused

    return read


def _no_5xx(answers: list[httpx.Response]) -> None:
    assert all(a.status_code < 500 for a in answers), [
        (a.status_code, a.text[:120]) for a in answers if a.status_code >= 500
    ]


async def test_thirty_bookings_of_one_slot_confirm_exactly_one(family: Family):
    body = family.body(0)
    answers = await asyncio.gather(*(family.book(body) for _ in range(30)))
    _no_5xx(answers)
    final = [await family.settled(a) for a in answers]
    outcomes = sorted((b["status"], b["reason"]) for b in final)
    assert outcomes == [("confirmed", None)] + [("rejected", "slot_unavailable")] * 29


async def test_twenty_requests_sharing_a_key_make_one_booking(family: Family):
    body, key = family.body(1), uuid.uuid4().hex
    answers = await asyncio.gather(*(family.book(body, key) for _ in range(20)))
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    first = answers[0].json()
    assert first["status"] == "confirmed"
    assert all(a.json() == first for a in answers)


async def test_thirty_bookings_of_distinct_slots_all_confirm_and_the_breaker_stays_shut(
    family: Family, breaker_for_bookings
):
    _, refused_before = breaker_for_bookings()
    answers = await asyncio.gather(*(family.book(family.body(10 + i)) for i in range(30)))
    _no_5xx(answers)
    final = [await family.settled(a) for a in answers]
    assert {b["status"] for b in final} == {"confirmed"}
    assert len({b["id"] for b in final}) == 30
    state, refused = breaker_for_bookings()
    assert (state, refused - refused_before) == (0, 0)


async def test_past_the_gateways_bound_requests_are_shed_and_nothing_is_lost(
    family: Family, faultline_stack: Any, breaker_for_bookings
):
    before = await asyncio.to_thread(audit_stack, faultline_stack, wait=False)
    _, refused_before = breaker_for_bookings()
    shed_before = _gateway_metric(faultline_stack, "faultline_requests_shed_total")
    requests = [(uuid.uuid4().hex, family.body(100 + i)) for i in range(GATEWAY_BOUND + 48)]
    answers = await asyncio.gather(*(family.book(body, key) for key, body in requests))
    shed = [(key, body) for (key, body), a in zip(requests, answers, strict=True) if a.is_error]
    # The gateway shed them itself, at its bound (how many depends on how fast the admitted
    # ones finish while the rest arrive).
    assert shed
    assert _gateway_metric(faultline_stack, "faultline_requests_shed_total") - shed_before == len(
        shed
    )
    for answer in answers:
        if answer.is_error:
            assert answer.status_code == 503
            assert answer.headers["content-type"] == "application/problem+json"
            assert int(answer.headers["retry-after"]) >= 1
            assert answer.json()["title"] == "Service overloaded"
        else:
            assert answer.status_code in (201, 202)
    admitted = [await family.settled(a) for a in answers if not a.is_error]
    assert {b["status"] for b in admitted} == {"confirmed"}
    state, refused = breaker_for_bookings()
    assert (state, refused - refused_before) == (0, 0)

    # A client that comes back with the same keys, never more at once than the gateway
    # admits, gets every shed booking.
    room = asyncio.Semaphore(GATEWAY_BOUND // 2)

    async def again(key: str, body: dict[str, Any]) -> dict[str, Any]:
        async with room:
            return await family.settled(await family.book(body, key))

    retried = await asyncio.gather(*(again(key, body) for key, body in shed))
    assert {b["status"] for b in retried} == {"confirmed"}
    report = await asyncio.to_thread(audit_stack, faultline_stack, timeout=60.0)
    assert report.since(before).passed, report.since(before).explain()
