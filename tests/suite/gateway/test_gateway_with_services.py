"""The gateway in front of the real services (users, facilities, payments, bookings,
notifications), each served over HTTP on port 0 with its own database and broker namespace."""

from __future__ import annotations

import contextlib
import uuid

import pytest
from conftest import app_client, eventually, serve

from system_under_test.bookings.app import build_app as bookings_app
from system_under_test.bookings.settings import BookingsSettings
from system_under_test.facilities.app import build_app as facilities_app
from system_under_test.facilities.settings import FacilitiesSettings
from system_under_test.gateway.app import build_app as gateway_app
from system_under_test.notifications.app import build_app as notifications_app
from system_under_test.notifications.settings import NotificationsSettings
from system_under_test.payments.app import build_app as payments_app
from system_under_test.payments.settings import PaymentsSettings
from system_under_test.users.app import build_app as users_app
from system_under_test.users.settings import UsersSettings

from .stubs import gateway_settings

pytestmark = pytest.mark.integration


@pytest.fixture
async def gateway(make_database_url, broker_namespace, amqp_url):
    common = {"namespace": broker_namespace.name, "amqp_url": amqp_url, "log_level": "WARNING"}
    async with contextlib.AsyncExitStack() as stack:
        users = await stack.enter_async_context(
            serve(users_app(UsersSettings(database_url=make_database_url(), **common)))
        )
        facilities = await stack.enter_async_context(
            serve(facilities_app(FacilitiesSettings(database_url=make_database_url(), **common)))
        )
        payments = await stack.enter_async_context(
            serve(payments_app(PaymentsSettings(database_url=make_database_url(), **common)))
        )
        bookings = await stack.enter_async_context(
            serve(
                bookings_app(
                    BookingsSettings(
                        database_url=make_database_url(),
                        facilities_url=facilities,
                        payments_url=payments,
                        **common,
                    )
                )
            )
        )
        notifications = await stack.enter_async_context(
            serve(
                notifications_app(NotificationsSettings(database_url=make_database_url(), **common))
            )
        )
        settings = gateway_settings(
            users_url=users,
            facilities_url=facilities,
            payments_url=payments,
            bookings_url=bookings,
            notifications_url=notifications,
            http_timeout_s=5.0,
        )
        client = await stack.enter_async_context(app_client(gateway_app(settings)))
        await eventually(lambda: _ready(client), within_s=20)
        token = await client.post("/api/auth/token", data={"username": "demo", "password": "demo"})
        client.headers["Authorization"] = f"Bearer {token.json()['access_token']}"
        yield client


async def _ready(client) -> bool:
    return (await client.get("/ready")).status_code == 200


async def _settled(client, booking: dict) -> dict:
    """The booking once its saga has finished (a 202 is still pending)."""

    async def finished() -> dict | None:
        current = (await client.get(f"/api/bookings/{booking['id']}")).json()
        return current if current["status"] != "pending" else None

    return booking if booking["status"] != "pending" else await eventually(finished)


async def _has_status(client, booking_id: str, status: str) -> bool:
    return (await client.get(f"/api/bookings/{booking_id}")).json()["status"] == status


def _booking(user_id: str, facility_id: str, hour: int, card: str = "pm_card_visa") -> dict:
    return {
        "user_id": user_id,
        "facility_id": facility_id,
        "starts_at": f"2031-03-0{1 + hour // 24}T{hour % 24:02d}:00:00+00:00",
        "ends_at": f"2031-03-0{1 + hour // 24}T{hour % 24:02d}:30:00+00:00",
        "amount_cents": 25000,
        "payment_method": card,
    }


async def test_accounts_and_facilities_through_the_gateway(gateway):
    email = f"ann.{uuid.uuid4().hex[:6]}@example.com"
    user = await gateway.post("/api/users", json={"email": email, "name": "Ann"})
    assert user.status_code == 201
    assert (await gateway.get(f"/api/users/{user.json()['id']}")).json()["email"] == email
    taken = await gateway.post("/api/users", json={"email": email, "name": "Ann"})
    assert taken.status_code == 409
    missing = await gateway.get(f"/api/users/{uuid.uuid4()}")
    assert missing.status_code == 404
    assert missing.headers["content-type"] == "application/problem+json"

    chapel = await gateway.post("/api/facilities", json={"name": "Chapel", "capacity": 60})
    assert chapel.status_code == 201
    listed = (await gateway.get("/api/facilities")).json()
    assert listed["stale"] is False
    assert chapel.json() in listed["items"]
    fetched = await gateway.get(f"/api/facilities/{chapel.json()['id']}")
    assert fetched.json() == chapel.json()
    day = await gateway.get(
        f"/api/facilities/{chapel.json()['id']}/availability", params={"date": "2031-03-01"}
    )
    assert day.status_code == 200
    assert day.json()["reserved"] == []


async def test_booking_flows_through_the_gateway(gateway):
    user = (
        await gateway.post(
            "/api/users", json={"email": f"b.{uuid.uuid4().hex[:6]}@example.com", "name": "Bo"}
        )
    ).json()
    facility = (await gateway.post("/api/facilities", json={"name": "Hall", "capacity": 9})).json()
    body = _booking(user["id"], facility["id"], hour=10)

    placed = await gateway.post("/api/bookings", json=body, headers={"Idempotency-Key": "one"})
    assert placed.status_code in (201, 202)
    confirmed = await _settled(gateway, placed.json())
    assert confirmed["status"] == "confirmed"

    again = await gateway.post("/api/bookings", json=body, headers={"Idempotency-Key": "one"})
    assert again.json()["id"] == confirmed["id"], "same key, same booking"

    details = (await gateway.get(f"/api/bookings/{confirmed['id']}/details")).json()
    assert details["booking"]["id"] == confirmed["id"]
    assert details["user"]["id"] == user["id"]
    assert details["facility"]["id"] == facility["id"]
    assert details["payment"]["status"] == "captured"
    assert details["payment"]["amount_cents"] == 25000

    clash = await gateway.post("/api/bookings", json=body, headers={"Idempotency-Key": "two"})
    rejected = await _settled(gateway, clash.json())
    assert rejected["status"] == "rejected"
    assert rejected["reason"]
    no_charge = (await gateway.get(f"/api/bookings/{rejected['id']}/details")).json()
    assert no_charge["payment"] is None

    declined_body = _booking(user["id"], facility["id"], hour=14, card="pm_card_chargeDeclined")
    declined = await gateway.post(
        "/api/bookings", json=declined_body, headers={"Idempotency-Key": "three"}
    )
    cancelled = await _settled(gateway, declined.json())
    assert cancelled["status"] == "cancelled"
    assert cancelled["reason"] == "payment_declined"

    cancel = await gateway.post(f"/api/bookings/{confirmed['id']}/cancel")
    assert cancel.status_code in (200, 202)
    await eventually(lambda: _has_status(gateway, confirmed["id"], "cancelled"))

    unknown_user = await gateway.post(
        "/api/bookings",
        json={**_booking(str(uuid.uuid4()), facility["id"], hour=20)},
        headers={"Idempotency-Key": "four"},
    )
    assert unknown_user.status_code == 422
    assert (await gateway.get(f"/api/bookings/{uuid.uuid4()}")).status_code == 404

    # Every outcome reached the customer exactly once, through outbox, broker and inbox, and
    # the family reads them through the gateway.
    async def sent(n: int, **filters: str) -> list[str] | None:
        found = await gateway.get("/api/notifications", params=filters)
        assert found.status_code == 200, found.text
        types = sorted(m["event_type"] for m in found.json())
        return types if len(types) >= n else None

    assert await eventually(lambda: sent(2, booking_id=confirmed["id"])) == [
        "booking.cancelled",
        "booking.confirmed",
    ]
    assert await eventually(lambda: sent(1, booking_id=rejected["id"])) == ["booking.rejected"]
    assert await eventually(lambda: sent(1, booking_id=cancelled["id"])) == ["booking.cancelled"]
    # The user's own list: the welcome, and every booking's outcome.
    assert await eventually(lambda: sent(5, user_id=user["id"])) == [
        "booking.cancelled",
        "booking.cancelled",
        "booking.confirmed",
        "booking.rejected",
        "user.created",
    ]
