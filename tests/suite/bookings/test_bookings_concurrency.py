"""bookings with dozens of requests in flight: real PostgreSQL, real uvicorn, and the real
facilities and payments services (stubs where a test must hold calls in flight)."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest
from conftest import eventually

from system_under_test.bookings.app import build_app

from .conftest import Real, _all_published, ready_server
from .helpers import booking_body, outbox_events, place

pytestmark = pytest.mark.integration

# Room for a loaded machine: a timed-out reserve would be an ambiguous outcome, not the race
# these tests are about.
PATIENT = {"http_timeout_s": 10.0, "retry_attempts": 3, "saga_budget_s": 30.0}


@pytest.fixture
def serve_bookings(settings_for, events) -> Callable[..., Any]:
    """`async with serve_bookings(**overrides) as client:` bookings on a real uvicorn."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = settings_for(**{**PATIENT, **overrides})
        async with ready_server(build_app(settings)) as client:
            client.database_url = settings.database_url  # type: ignore[attr-defined]
            yield client
            await eventually(lambda: _all_published(settings.database_url), within_s=20)

    return start


async def _all(requests: list[Any]) -> list[httpx.Response]:
    return list(await asyncio.gather(*requests))


def _problem_503(response: httpx.Response) -> bool:
    return (
        response.status_code == 503
        and response.headers["content-type"] == "application/problem+json"
        and int(response.headers["retry-after"]) >= 1
    )


async def test_many_bookings_of_one_slot_confirm_exactly_one(serve_bookings, real: Real):
    slot = booking_body(facility_id=real.facility_id)
    bodies = [{**slot, "user_id": str(uuid.uuid4())} for _ in range(30)]
    async with serve_bookings(**real.urls) as bookings:
        answers = await _all([place(bookings, body) for body in bodies])
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers if a.is_error]
    outcomes = sorted((a.json()["status"], a.json()["reason"]) for a in answers)
    assert outcomes == [("confirmed", None)] + [("rejected", "slot_unavailable")] * 29
    [winner] = [a.json()["id"] for a in answers if a.json()["status"] == "confirmed"]
    day = slot["starts_at"][:10]
    held = await real.facilities.get(
        f"/facilities/{real.facility_id}/availability", params={"date": day}
    )
    assert [r["booking_id"] for r in held.json()["reserved"]] == [winner]
    for answer in answers:
        charge = await real.payments.get(f"/charges/{answer.json()['id']}")
        assert charge.status_code == (200 if answer.json()["id"] == winner else 404)
    types = sorted(e["type"] for e in outbox_events(bookings.database_url))
    assert types == ["booking.confirmed"] + ["booking.rejected"] * 29


async def test_many_requests_sharing_a_key_make_one_booking(serve_bookings, real: Real):
    body, key = booking_body(facility_id=real.facility_id), uuid.uuid4().hex
    async with serve_bookings(**real.urls) as bookings:
        answers = await _all([place(bookings, body, key) for _ in range(20)])
        listed = (await bookings.get("/bookings")).json()
    assert all(a.status_code in (200, 201) for a in answers), [a.text for a in answers]
    first = answers[0].json()
    assert first["status"] == "confirmed"
    assert all(a.json() == first for a in answers)
    assert [b["id"] for b in listed] == [first["id"]]
    reservation = await real.facilities.get(f"/reservations/{first['id']}")
    assert reservation.json()["status"] == "confirmed"
    assert [e["type"] for e in outbox_events(bookings.database_url)] == ["booking.confirmed"]


async def test_many_bookings_of_distinct_slots_all_confirm(serve_bookings, real: Real):
    bodies = [booking_body(facility_id=real.facility_id) for _ in range(40)]
    async with serve_bookings(**real.urls) as bookings:
        answers = await _all([place(bookings, body) for body in bodies])
    assert {a.status_code for a in answers} == {201}, [a.text for a in answers if a.is_error]
    assert {a.json()["status"] for a in answers} == {"confirmed"}
    assert len({a.json()["id"] for a in answers}) == 40


async def test_sagas_waiting_on_a_downstream_hold_no_database_connection(
    serve_bookings, downstreams, wait_until
):
    # Two connections, and twenty sagas held in the reserve call: each saga still answers,
    # and so does every other request, because none keeps a connection while it waits.
    gate = downstreams.facilities.gates["reserve"] = asyncio.Event()
    pool = {"db_pool_size": 2, "db_pool_overflow": 0, "db_pool_timeout_s": 10.0}
    async with serve_bookings(**pool) as bookings:
        placing = [asyncio.create_task(place(bookings, booking_body())) for _ in range(20)]
        await wait_until(lambda: downstreams.facilities.calls["reserve"] == 20, within_s=20)
        listed = await bookings.get("/bookings", params={"status": "pending"})
        assert listed.status_code == 200 and len(listed.json()) == 20
        gate.set()
        answers = await asyncio.gather(*placing)
    assert {(a.status_code, a.json()["status"]) for a in answers} == {(201, "confirmed")}


async def test_past_the_in_flight_bound_requests_are_shed_and_nothing_is_lost(
    serve_bookings, downstreams, wait_until
):
    bound = 8
    gate = downstreams.facilities.gates["reserve"] = asyncio.Event()
    async with serve_bookings(max_in_flight=bound) as bookings:
        admitted = [(uuid.uuid4().hex, booking_body()) for _ in range(bound)]
        placing = [asyncio.create_task(place(bookings, b, k)) for k, b in admitted]
        await wait_until(lambda: downstreams.facilities.calls["reserve"] == bound, within_s=20)
        shed_requests = [(uuid.uuid4().hex, booking_body()) for _ in range(30)]
        shed = await _all([place(bookings, b, k) for k, b in shed_requests])
        assert all(_problem_503(a) for a in shed), {a.status_code for a in shed}
        assert (await bookings.get("/health")).status_code == 200
        gate.set()
        answers = await asyncio.gather(*placing)
        assert {a.json()["status"] for a in answers} == {"confirmed"}
        # A shed request left nothing behind: only the admitted bookings exist.
        listed = (await bookings.get("/bookings")).json()
        assert sorted(b["id"] for b in listed) == sorted(a.json()["id"] for a in answers)
        # Retried with the same keys, no more at once than the bound, every one is booked.
        room = asyncio.Semaphore(bound)

        async def retry(key: str, body: dict[str, Any]) -> httpx.Response:
            async with room:
                return await place(bookings, body, key)

        retried = await _all([retry(k, b) for k, b in shed_requests])
        assert {(a.status_code, a.json()["status"]) for a in retried} == {(201, "confirmed")}
        listed = (await bookings.get("/bookings")).json()
    assert len(listed) == bound + len(shed_requests)
    assert len(outbox_events(bookings.database_url)) == bound + len(shed_requests)
