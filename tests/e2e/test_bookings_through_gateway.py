"""The booking suite end to end: every request through the gateway, every edge through a proxy."""

from __future__ import annotations

import json
import secrets
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx
import pytest

from harness.booking_flow import settle

pytestmark = pytest.mark.e2e


def _day() -> date:
    return date.today() + timedelta(days=400 + secrets.randbelow(3000))


class Suite:
    """A user and a facility of one test, and helpers to book their slots."""

    def __init__(self, client: httpx.Client) -> None:
        self.client = client
        email = f"e2e-{secrets.token_hex(5)}@example.com"
        user = client.post("/api/users", json={"email": email, "name": "E2E family"})
        assert user.status_code == 201, user.text
        facility = client.post("/api/facilities", json={"name": "Hall", "capacity": 40})
        assert facility.status_code == 201, facility.text
        self.user_id = user.json()["id"]
        self.facility_id = facility.json()["id"]
        self.day = _day()

    def body(self, hour: int, payment_method: str = "pm_card_visa") -> dict[str, Any]:
        start = datetime(self.day.year, self.day.month, self.day.day, hour, tzinfo=UTC)
        return {
            "user_id": self.user_id,
            "facility_id": self.facility_id,
            "starts_at": start.isoformat(),
            "ends_at": (start + timedelta(hours=1)).isoformat(),
            "amount_cents": 25000,
            "payment_method": payment_method,
        }

    def post(self, body: dict[str, Any], key: str | None = None) -> httpx.Response:
        headers = {"Idempotency-Key": key or str(uuid.uuid4())}
        return self.client.post("/api/bookings", json=body, headers=headers)

    def book(self, hour: int, payment_method: str = "pm_card_visa") -> dict[str, Any]:
        resp = self.post(self.body(hour, payment_method))
        assert resp.status_code in (201, 202), resp.text
        return settle(self.client, resp.json())

    def reserved(self) -> set[str]:
        resp = self.client.get(
            f"/api/facilities/{self.facility_id}/availability",
            params={"date": self.day.isoformat()},
        )
        assert resp.status_code == 200, resp.text
        return {r["booking_id"] for r in resp.json()["reserved"]}


@pytest.fixture
def suite(gateway_client: httpx.Client) -> Suite:
    return Suite(gateway_client)


def _is_problem(resp: httpx.Response, status: int) -> dict[str, Any]:
    assert resp.status_code == status, resp.text
    assert resp.headers["content-type"].startswith("application/problem+json")
    body = resp.json()
    assert body["status"] == status and body["title"]
    return body


def test_free_slot_is_confirmed_and_held(suite: Suite):
    booking = suite.book(9)
    assert booking["status"] == "confirmed", booking
    assert booking["id"] in suite.reserved()
    details = suite.client.get(f"/api/bookings/{booking['id']}/details").json()
    assert details["payment"]["status"] == "captured"
    assert details["user"]["id"] == suite.user_id
    assert details["facility"]["id"] == suite.facility_id


def test_taken_slot_is_rejected_and_nothing_is_charged(suite: Suite):
    first = suite.book(10)
    second = suite.book(10)
    assert first["status"] == "confirmed"
    assert second["status"] == "rejected"
    assert second["reason"] == "slot_unavailable"
    assert suite.reserved() == {first["id"]}
    details = suite.client.get(f"/api/bookings/{second['id']}/details").json()
    assert details["payment"] is None


def test_declined_card_cancels_the_booking_and_releases_the_slot(suite: Suite):
    declined = suite.book(11, payment_method="pm_card_chargeDeclined")
    assert declined["status"] == "cancelled"
    assert declined["reason"] == "payment_declined"
    assert declined["id"] not in suite.reserved()
    # The compensation really freed the slot: another booking gets it.
    retry = suite.book(11)
    assert retry["status"] == "confirmed"
    assert suite.reserved() == {retry["id"]}


def test_cancelling_a_confirmed_booking_refunds_and_releases(suite: Suite):
    booking = suite.book(12)
    assert booking["status"] == "confirmed"
    resp = suite.client.post(f"/api/bookings/{booking['id']}/cancel")
    assert resp.status_code in (200, 202), resp.text
    deadline = time.monotonic() + 20
    state = resp.json()
    while state["status"] != "cancelled" and time.monotonic() < deadline:
        time.sleep(0.1)
        state = suite.client.get(f"/api/bookings/{booking['id']}").json()
    assert state["status"] == "cancelled"
    details = suite.client.get(f"/api/bookings/{booking['id']}/details").json()
    assert details["payment"]["status"] == "refunded"
    assert booking["id"] not in suite.reserved()


def test_same_idempotency_key_returns_the_same_booking(suite: Suite):
    key = str(uuid.uuid4())
    first = suite.post(suite.body(13), key=key)
    again = suite.post(suite.body(13), key=key)
    assert first.status_code in (201, 202) and again.status_code in (200, 201, 202)
    assert again.json()["id"] == first.json()["id"]
    assert settle(suite.client, again.json())["status"] == "confirmed"
    assert suite.reserved() == {first.json()["id"]}


def test_confirmed_and_cancelled_bookings_are_notified(suite: Suite, faultline_stack):
    booking = suite.book(14)
    assert booking["status"] == "confirmed"
    notifications = faultline_stack.url("notifications")
    deadline = time.monotonic() + 20
    sent: list[Any] = []
    while time.monotonic() < deadline:
        resp = httpx.get(f"{notifications}/notifications", params={"booking_id": booking["id"]})
        assert resp.status_code == 200, resp.text
        body = resp.json()
        sent = body["items"] if isinstance(body, dict) else body
        if sent:
            break
        time.sleep(0.1)
    assert len(sent) == 1, sent


def test_bad_input_is_a_4xx_problem_never_a_500(suite: Suite):
    client = suite.client
    headers = {"Idempotency-Key": str(uuid.uuid4()), "content-type": "application/json"}
    _is_problem(client.post("/api/bookings", content=b'{"user_id": ', headers=headers), 400)
    body = suite.body(15)
    body["ends_at"], body["starts_at"] = body["starts_at"], body["ends_at"]
    _is_problem(suite.post(body), 422)
    _is_problem(suite.post({**suite.body(15), "amount_cents": -5}), 422)
    _is_problem(suite.post({**suite.body(15), "user_id": str(uuid.uuid4())}), 422)
    _is_problem(client.get("/api/bookings/not-an-id"), 422)
    _is_problem(client.get(f"/api/bookings/{uuid.uuid4()}"), 404)
    _is_problem(client.get(f"/api/users/{uuid.uuid4()}"), 404)
    _is_problem(client.post("/api/facilities", json={"name": "x", "capacity": 0}), 422)
    big = {"name": "x" * 200_000, "capacity": 3}
    _is_problem(client.post("/api/facilities", json=big), 413)
    assert suite.reserved() == set()


def test_missing_or_bad_token_is_401(faultline_stack):
    with httpx.Client(base_url=faultline_stack.gateway_url, timeout=10) as anonymous:
        _is_problem(anonymous.get("/api/facilities"), 401)
        bad = {"Authorization": "Bearer not-a-token"}
        _is_problem(anonymous.get("/api/facilities", headers=bad), 401)
        refused = anonymous.post("/api/auth/token", data={"username": "demo", "password": "x"})
        _is_problem(refused, 401)
        # Health, readiness and the OpenAPI document stay open.
        assert anonymous.get("/health").status_code == 200
        assert anonymous.get("/ready").status_code == 200
        assert anonymous.get("/openapi.json").status_code == 200


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


def test_one_correlation_id_crosses_every_http_and_amqp_hop(suite: Suite, faultline_stack):
    # gateway -> users/facilities/bookings over HTTP, bookings -> facilities/payments over
    # HTTP, bookings -> notifications over the outbox and RabbitMQ: one id in every JSON log.
    correlation_id = f"e2e-{secrets.token_hex(8)}"
    resp = suite.client.post(
        "/api/bookings",
        json=suite.body(15),
        headers={"Idempotency-Key": str(uuid.uuid4()), "X-Correlation-ID": correlation_id},
    )
    assert resp.status_code in (201, 202), resp.text
    assert resp.headers["X-Correlation-ID"] == correlation_id
    hops = ["gateway", "users", "facilities", "payments", "bookings", "notifications"]
    deadline = time.monotonic() + 20
    missing = hops
    while missing and time.monotonic() < deadline:
        missing = [s for s in hops if not _logged_with(faultline_stack.log_path(s), correlation_id)]
        time.sleep(0.2)
    assert not missing, f"no JSON log line with correlation_id {correlation_id} in {missing}"
