"""facilities over HTTP with a real database: catalogue, reservations, availability."""

import asyncio
import uuid

import pytest

from system_under_test.facilities.app import build_app
from system_under_test.facilities.settings import FacilitiesSettings

pytestmark = pytest.mark.integration

SLOT = {"starts_at": "2030-05-01T10:00:00+00:00", "ends_at": "2030-05-01T11:00:00+00:00"}


@pytest.fixture
async def client(database_url, asgi_client):
    app = build_app(FacilitiesSettings(database_url=database_url))
    async with asgi_client(app) as client:
        yield client


async def new_facility(client, name="Chapel of Rest", capacity=80) -> str:
    response = await client.post("/facilities", json={"name": name, "capacity": capacity})
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def test_facility_is_created_listed_and_fetched(client):
    facility_id = await new_facility(client, "Garden Hall", 120)
    fetched = await client.get(f"/facilities/{facility_id}")
    assert fetched.status_code == 200
    assert fetched.json() == {"id": facility_id, "name": "Garden Hall", "capacity": 120}
    listed = await client.get("/facilities", params={"limit": 500})
    assert facility_id in [f["id"] for f in listed.json()]


async def test_reserve_is_idempotent_by_booking_and_refuses_overlaps(client):
    facility_id = await new_facility(client)
    booking, rival = str(uuid.uuid4()), str(uuid.uuid4())
    body = {"facility_id": facility_id, **SLOT}

    first = await client.put(f"/reservations/{booking}", json=body)
    again = await client.put(f"/reservations/{booking}", json=body)
    overlapping = {
        "facility_id": facility_id,
        "starts_at": "2030-05-01T10:30:00+00:00",
        "ends_at": "2030-05-01T12:00:00+00:00",
    }
    taken = await client.put(f"/reservations/{rival}", json=overlapping)
    adjacent = {
        "facility_id": facility_id,
        "starts_at": SLOT["ends_at"],
        "ends_at": "2030-05-01T12:00:00+00:00",
    }
    after = await client.put(f"/reservations/{uuid.uuid4()}", json=adjacent)

    assert first.status_code == 201 and first.json()["status"] == "held"
    assert again.status_code == 200 and again.json() == first.json()
    assert taken.status_code == 409
    assert taken.headers["content-type"] == "application/problem+json"
    assert taken.json()["title"] == "Slot unavailable"
    assert after.status_code == 201


async def test_concurrent_reservations_of_one_slot_hold_it_once(client):
    facility_id = await new_facility(client)
    body = {"facility_id": facility_id, **SLOT}
    answers = await asyncio.gather(
        *(client.put(f"/reservations/{uuid.uuid4()}", json=body) for _ in range(30))
    )
    assert sorted(a.status_code for a in answers) == [201] + [409] * 29


async def test_concurrent_requests_for_one_booking_hold_and_confirm_once(client):
    facility_id = await new_facility(client)
    booking = str(uuid.uuid4())
    body = {"facility_id": facility_id, **SLOT}
    held = await asyncio.gather(
        *(client.put(f"/reservations/{booking}", json=body) for _ in range(20))
    )
    assert sorted(a.status_code for a in held) == [200] * 19 + [201]
    assert {a.json()["status"] for a in held} == {"held"}
    confirmed = await asyncio.gather(
        *(client.post(f"/reservations/{booking}/confirm") for _ in range(20))
    )
    assert {(a.status_code, a.json()["status"]) for a in confirmed} == {(200, "confirmed")}
    availability = await client.get(
        f"/facilities/{facility_id}/availability", params={"date": "2030-05-01"}
    )
    assert [r["booking_id"] for r in availability.json()["reserved"]] == [booking]


async def test_release_frees_the_slot_and_confirm_after_release_conflicts(client):
    facility_id = await new_facility(client)
    booking = str(uuid.uuid4())
    body = {"facility_id": facility_id, **SLOT}
    assert (await client.put(f"/reservations/{booking}", json=body)).status_code == 201

    confirmed = await client.post(f"/reservations/{booking}/confirm")
    assert confirmed.status_code == 200 and confirmed.json()["status"] == "confirmed"
    assert (await client.post(f"/reservations/{booking}/confirm")).status_code == 200

    assert (await client.post(f"/reservations/{booking}/release")).status_code == 204
    assert (await client.post(f"/reservations/{booking}/release")).status_code == 204
    assert (await client.get(f"/reservations/{booking}")).json()["status"] == "released"
    assert (await client.post(f"/reservations/{booking}/confirm")).status_code == 409
    # The slot is free again for someone else, but the released booking cannot re-hold it.
    assert (await client.put(f"/reservations/{booking}", json=body)).status_code == 409
    assert (await client.put(f"/reservations/{uuid.uuid4()}", json=body)).status_code == 201


async def test_release_before_reserve_refuses_the_late_reserve(client):
    facility_id = await new_facility(client)
    booking = str(uuid.uuid4())
    assert (await client.post(f"/reservations/{booking}/release")).status_code == 204
    late = await client.put(f"/reservations/{booking}", json={"facility_id": facility_id, **SLOT})
    assert late.status_code == 409
    assert (await client.get(f"/reservations/{booking}")).status_code == 404
    availability = await client.get(
        f"/facilities/{facility_id}/availability", params={"date": "2030-05-01"}
    )
    assert availability.json()["reserved"] == []


async def test_availability_lists_held_and_confirmed_slots_of_the_day(client):
    facility_id = await new_facility(client)
    held, released = str(uuid.uuid4()), str(uuid.uuid4())
    other_day = {"starts_at": "2030-05-02T09:00:00+02:00", "ends_at": "2030-05-02T10:00:00+02:00"}
    await client.put(f"/reservations/{held}", json={"facility_id": facility_id, **SLOT})
    await client.put(f"/reservations/{released}", json={"facility_id": facility_id, **other_day})
    await client.post(f"/reservations/{released}/release")

    day = await client.get(f"/facilities/{facility_id}/availability", params={"date": "2030-05-01"})
    assert day.status_code == 200
    body = day.json()
    assert body["facility_id"] == facility_id and body["date"] == "2030-05-01"
    assert [r["booking_id"] for r in body["reserved"]] == [held]
    next_day = await client.get(
        f"/facilities/{facility_id}/availability", params={"date": "2030-05-02"}
    )
    assert next_day.json()["reserved"] == []


async def test_reserving_an_unknown_facility_is_404(client):
    body = {"facility_id": str(uuid.uuid4()), **SLOT}
    response = await client.put(f"/reservations/{uuid.uuid4()}", json=body)
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_an_integral_number_is_an_integer(client):
    # `80.0` is an integer to JSON Schema (no fractional part), so it is served as 80.
    facility_id = await new_facility(client, capacity=80.0)
    assert (await client.get(f"/facilities/{facility_id}")).json()["capacity"] == 80


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", "/facilities/not-a-uuid", None, 422),
        ("GET", f"/facilities/{uuid.uuid4()}", None, 404),
        ("GET", f"/reservations/{uuid.uuid4()}", None, 404),
        ("POST", f"/reservations/{uuid.uuid4()}/confirm", None, 404),
        ("POST", "/facilities", {"name": "Hall", "capacity": 0}, 422),
        ("POST", "/facilities", {"name": "Hall", "capacity": -3}, 422),
        # JSON Schema integers only: lax parsing would read `true` as 1 and "80" as 80.
        ("POST", "/facilities", {"name": "Hall", "capacity": True}, 422),
        ("POST", "/facilities", {"name": "Hall", "capacity": "80"}, 422),
        ("POST", "/facilities", {"name": "Hall", "capacity": 80.5}, 422),
        ("POST", "/facilities", {"name": "bad\u0000name", "capacity": 3}, 422),
        ("POST", "/facilities", {"name": "   ", "capacity": 3}, 422),
        (
            "PUT",
            f"/reservations/{uuid.uuid4()}",
            {
                "facility_id": str(uuid.uuid4()),
                "starts_at": "2030-05-01T11:00:00+00:00",
                "ends_at": "2030-05-01T10:00:00+00:00",
            },
            422,
        ),
        (
            "PUT",
            f"/reservations/{uuid.uuid4()}",
            {
                "facility_id": str(uuid.uuid4()),
                "starts_at": "2030-05-01T10:00:00",
                "ends_at": "2030-05-01T11:00:00",
            },
            422,
        ),
        ("PUT", f"/reservations/{uuid.uuid4()}", {"facility_id": "nope", **SLOT}, 422),
        (
            "PUT",
            f"/reservations/{uuid.uuid4()}",
            {
                "facility_id": str(uuid.uuid4()),
                "starts_at": "9999-12-31T23:00:00-05:00",
                "ends_at": "9999-12-31T23:30:00-05:00",
            },
            422,
        ),
        ("GET", f"/facilities/{uuid.uuid4()}/availability?date=2030-13-01", None, 422),
        ("GET", f"/facilities/{uuid.uuid4()}/availability?date=9999-12-31", None, 422),
    ],
)
async def test_bad_input_gets_a_problem_not_a_500(client, method, path, body, status):
    response = await client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["status"] == status and problem["title"]
