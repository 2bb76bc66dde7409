"""bookings over HTTP with real PostgreSQL and RabbitMQ, and stub downstreams on real sockets."""

from __future__ import annotations

import uuid

import pytest
from conftest import eventually

from .helpers import (
    booking_body,
    database_url_of,
    finished_calls,
    next_event,
    outbox_events,
    place,
    saga_steps,
)
from .stubs import DECLINED_METHOD

pytestmark = pytest.mark.integration


@pytest.fixture
def bookings_database_url(database_url: str) -> str:
    # One database for the module (creating one per test costs more than the test); each
    # test looks only at its own bookings.
    return database_url


async def test_booking_is_confirmed_and_announced(bookings, downstreams, events):
    body = booking_body()
    response = await place(bookings, body)
    assert response.status_code == 201
    booking = response.json()
    assert booking["status"] == "confirmed" and booking["reason"] is None
    assert booking["settled"] is True
    assert downstreams.facilities.reservations[booking["id"]].status == "confirmed"
    assert downstreams.payments.charges[booking["id"]] == "captured"

    fetched = await bookings.get(f"/bookings/{booking['id']}")
    assert fetched.status_code == 200 and fetched.json() == booking

    event = await next_event(events)
    assert event["type"] == "booking.confirmed"
    data = event["data"]
    assert data["booking_id"] == booking["id"]
    assert data["status"] == "confirmed"
    assert data["amount_cents"] == body["amount_cents"]
    assert {"user_id", "facility_id", "starts_at", "ends_at", "reason"} <= data.keys()
    [row] = outbox_events(database_url_of(bookings), booking["id"])
    assert row["event_id"] == event["event_id"]


async def test_taken_slot_rejects_the_second_booking(bookings, downstreams, events):
    body = booking_body()
    first = (await place(bookings, body)).json()
    second = await place(bookings, {**body, "user_id": str(uuid.uuid4())})
    assert second.status_code == 201
    assert second.json()["status"] == "rejected"
    assert second.json()["reason"] == "slot_unavailable"
    assert second.json()["id"] not in downstreams.payments.charges
    ids = first["id"], second.json()["id"]
    types = [e["type"] for e in outbox_events(database_url_of(bookings), *ids)]
    assert types == ["booking.confirmed", "booking.rejected"]
    assert first["status"] == "confirmed"


async def test_declined_payment_releases_the_slot(bookings, downstreams, events):
    response = await place(bookings, booking_body(payment_method=DECLINED_METHOD))
    booking = response.json()
    assert response.status_code == 201
    assert (booking["status"], booking["reason"]) == ("cancelled", "payment_declined")
    assert downstreams.facilities.reservations[booking["id"]].status == "released"
    assert booking["id"] not in downstreams.payments.charges
    [event] = outbox_events(database_url_of(bookings), booking["id"])
    assert event["type"] == "booking.cancelled"
    assert event["data"]["reason"] == "payment_declined"
    metrics = (await bookings.get("/metrics")).text
    assert 'faultline_compensations_total{step="release"}' in metrics
    assert 'faultline_saga_outcomes_total{outcome="cancelled"}' in metrics


async def test_payments_timeout_refunds_first_then_releases(bookings, downstreams, events):
    # Every attempt of the charge takes effect but answers too late: the ambiguous case.
    downstreams.payments.fail("charge", "late", "late")
    response = await place(bookings)
    booking = response.json()
    assert (booking["status"], booking["reason"]) == ("cancelled", "payment_unavailable")
    assert downstreams.payments.charges[booking["id"]] == "refunded"
    assert downstreams.facilities.reservations[booking["id"]].status == "released"
    steps = saga_steps(database_url_of(bookings), booking["id"])
    assert finished_calls(steps) == ["reserve", "charge", "refund", "release"]
    events = outbox_events(database_url_of(bookings), booking["id"])
    assert [e["type"] for e in events] == ["booking.cancelled"]


async def test_payments_unreachable_voids_the_charge_and_releases(bookings, downstreams, events):
    downstreams.payments.fail("charge", "503", "503")
    booking = (await place(bookings)).json()
    assert (booking["status"], booking["reason"]) == ("cancelled", "payment_unavailable")
    # The refund came first, so a charge arriving late is refused.
    assert downstreams.payments.charges[booking["id"]] == "voided"
    assert downstreams.facilities.reservations[booking["id"]].status == "released"


async def test_unknown_facility_rejects(bookings, downstreams, events):
    unknown = str(uuid.uuid4())
    downstreams.facilities.unknown_facilities.add(unknown)
    booking = (await place(bookings, booking_body(facility_id=unknown))).json()
    assert (booking["status"], booking["reason"]) == ("rejected", "facility_not_found")


async def test_same_key_and_body_return_the_same_booking(bookings, downstreams, events):
    body, key = booking_body(), uuid.uuid4().hex
    first = await place(bookings, body, key)
    again = await place(bookings, body, key)
    assert first.status_code == again.status_code == 201
    assert again.json() == first.json()
    assert downstreams.facilities.calls["reserve"] == 1
    assert downstreams.payments.calls["charge"] == 1
    assert len(outbox_events(database_url_of(bookings), first.json()["id"])) == 1

    listed = (await bookings.get("/bookings")).json()
    assert [b["id"] for b in listed].count(first.json()["id"]) == 1


async def test_same_key_with_another_body_is_refused(bookings, events):
    key = uuid.uuid4().hex
    assert (await place(bookings, booking_body(), key)).status_code == 201
    response = await place(bookings, booking_body(amount_cents=1), key)
    assert response.status_code == 422
    assert response.headers["content-type"].startswith("application/problem+json")
    assert "Idempotency-Key" in response.json()["detail"]


async def test_pending_booking_is_finished_by_the_recovery_loop(
    start_bookings, downstreams, events
):
    # The release keeps failing past the request's budget: the answer is 202 pending.
    downstreams.facilities.fail("release", *["503"] * 1000)
    async with start_bookings(saga_budget_s=0.5) as client:
        response = await place(client, booking_body(payment_method=DECLINED_METHOD))
        assert response.status_code == 202
        booking = response.json()
        assert booking["status"] == "pending" and booking["settled"] is False
        pending = (await client.get("/bookings", params={"status": "pending"})).json()
        assert [b["id"] for b in pending] == [booking["id"]]

        downstreams.facilities.faults.clear()

        async def cancelled() -> bool:
            current = (await client.get(f"/bookings/{booking['id']}")).json()
            return current["status"] == "cancelled"

        await eventually(cancelled, within_s=10)
    assert downstreams.facilities.reservations[booking["id"]].status == "released"
    events = outbox_events(database_url_of(client), booking["id"])
    assert [e["type"] for e in events] == ["booking.cancelled"]


async def test_cancel_confirmed_booking_refunds_and_releases(bookings, downstreams, events):
    booking = (await place(bookings)).json()
    response = await bookings.post(f"/bookings/{booking['id']}/cancel")
    assert response.status_code == 200
    cancelled = response.json()
    assert (cancelled["status"], cancelled["reason"]) == ("cancelled", "cancelled_by_customer")
    assert downstreams.payments.charges[booking["id"]] == "refunded"
    assert downstreams.facilities.reservations[booking["id"]].status == "released"

    again = await bookings.post(f"/bookings/{booking['id']}/cancel")
    assert again.status_code == 200 and again.json() == cancelled
    assert downstreams.payments.calls["refund"] == 1
    types = [e["type"] for e in outbox_events(database_url_of(bookings), booking["id"])]
    assert types == ["booking.confirmed", "booking.cancelled"]


async def test_only_confirmed_bookings_can_be_cancelled(bookings, downstreams, events):
    body = booking_body()
    await place(bookings, body)
    rejected = (await place(bookings, body)).json()
    assert rejected["status"] == "rejected"
    response = await bookings.post(f"/bookings/{rejected['id']}/cancel")
    assert response.status_code == 409
    assert response.headers["content-type"].startswith("application/problem+json")


async def test_compensation_switched_off_leaves_the_slot_held(start_bookings, downstreams, events):
    async with start_bookings(compensation=False) as client:
        booking = (await place(client, booking_body(payment_method=DECLINED_METHOD))).json()
    assert (booking["status"], booking["reason"]) == ("cancelled", "payment_declined")
    assert downstreams.facilities.reservations[booking["id"]].status == "held"
    assert downstreams.facilities.calls["release"] == 0


BAD_BODIES = [
    {"amount_cents": -5},
    {"amount_cents": 0},
    {"amount_cents": 10**20},
    {"ends_at": "2031-01-01T09:00:00+00:00", "starts_at": "2031-01-01T10:00:00+00:00"},
    {"starts_at": "2031-01-01T10:00:00"},
    {"starts_at": "0001-01-01T00:00:00+01:00"},
    {"ends_at": "9999-12-31T23:59:59-01:00"},
    {"user_id": "not-a-uuid"},
    {"facility_id": 42},
    {"payment_method": ""},
    {"payment_method": "   "},
    {"payment_method": "pm\u0000visa"},
]


async def test_bad_booking_requests_get_a_problem(bookings, events):
    before = len((await bookings.get("/bookings")).json())
    for overrides in BAD_BODIES:
        response = await place(bookings, booking_body(**overrides))
        assert response.status_code == 422, overrides
        assert response.headers["content-type"].startswith("application/problem+json")
    assert len((await bookings.get("/bookings")).json()) == before


async def test_malformed_requests_and_unknown_ids_get_problems(bookings, events):
    missing_key = await bookings.post("/bookings", json=booking_body())
    assert missing_key.status_code == 422
    assert "Idempotency-Key" in missing_key.json()["detail"]
    malformed = await bookings.post(
        "/bookings",
        content=b"{not json",
        headers={"Idempotency-Key": "k", "content-type": "application/json"},
    )
    assert malformed.status_code == 400
    unknown = await bookings.get(f"/bookings/{uuid.uuid4()}")
    assert unknown.status_code == 404
    assert unknown.json()["status"] == 404
    assert (await bookings.get("/bookings/not-a-uuid")).status_code == 422
    assert (await bookings.post(f"/bookings/{uuid.uuid4()}/cancel")).status_code == 404
    assert (await bookings.get("/bookings", params={"status": "lost"})).status_code == 422


async def test_openapi_documents_every_answer(bookings, events):
    paths = (await bookings.get("/openapi.json")).json()["paths"]
    assert set(paths["/bookings"]["post"]["responses"]) >= {"201", "202", "400", "413", "422"}
    assert set(paths["/bookings/{booking_id}/cancel"]["post"]["responses"]) >= {
        "200",
        "202",
        "404",
        "409",
        "422",
    }
    assert set(paths["/bookings/{booking_id}"]["get"]["responses"]) >= {"200", "404", "422"}
