"""The booking flow `faultline demo` runs through the gateway, one checked step at a time.

Each step says what a user would see: a confirmed booking, a conflict rejected, a decline
compensated (the slot is free again), a cancellation refunded and released, notifications sent.
"""

from __future__ import annotations

import secrets
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from typing import Any

import httpx

DEMO_USER = ("demo", "demo")
SETTLE_TIMEOUT_S = 20.0


@dataclass(frozen=True)
class Step:
    name: str
    ok: bool
    detail: str


class FlowError(Exception):
    """A step's outcome differs from what the flow expects."""


def _items(body: Any) -> list[Any]:
    if isinstance(body, dict):
        body = body.get("items", [])
    return body if isinstance(body, list) else []


def get_token(client: httpx.Client, username: str = "demo", password: str = "demo") -> str:
    resp = client.post("/api/auth/token", data={"username": username, "password": password})
    if resp.status_code != 200:
        raise FlowError(f"token refused: {resp.status_code} {resp.text[:200]}")
    return str(resp.json()["access_token"])


def settle(client: httpx.Client, booking: dict[str, Any], timeout: float = SETTLE_TIMEOUT_S):
    """Poll a booking until it leaves `pending` (or the deadline passes)."""
    deadline = time.monotonic() + timeout
    while booking.get("status") == "pending" and time.monotonic() < deadline:
        time.sleep(0.1)
        resp = client.get(f"/api/bookings/{booking['id']}")
        if resp.status_code == 200:
            booking = resp.json()
    return booking


class BookingFlow:
    """Runs against a gateway (and notifications, to see what was sent) already up."""

    def __init__(self, gateway_url: str, notifications_url: str | None = None) -> None:
        self.gateway_url = gateway_url
        self.notifications_url = notifications_url
        self.client = httpx.Client(base_url=gateway_url, timeout=15.0)
        # A day far enough ahead, and random, so that reruns against one stack do not collide.
        self.day = date.today() + timedelta(days=400 + secrets.randbelow(3000))
        self.ids: dict[str, Any] = {}

    def close(self) -> None:
        self.client.close()

    def slot(self, hour: int) -> tuple[str, str]:
        start = datetime(self.day.year, self.day.month, self.day.day, hour, tzinfo=UTC)
        return start.isoformat(), (start + timedelta(hours=1)).isoformat()

    def book(self, hour: int, payment_method: str = "pm_card_visa") -> dict[str, Any]:
        starts_at, ends_at = self.slot(hour)
        resp = self.client.post(
            "/api/bookings",
            headers={"Idempotency-Key": str(uuid.uuid4())},
            json={
                "user_id": self.ids["user"],
                "facility_id": self.ids["facility"],
                "starts_at": starts_at,
                "ends_at": ends_at,
                "amount_cents": 25000,
                "payment_method": payment_method,
            },
        )
        if resp.status_code not in (201, 202):
            raise FlowError(f"booking answered {resp.status_code}: {resp.text[:200]}")
        return settle(self.client, resp.json())

    def reserved_ids(self) -> set[str]:
        resp = self.client.get(
            f"/api/facilities/{self.ids['facility']}/availability",
            params={"date": self.day.isoformat()},
        )
        if resp.status_code != 200:
            raise FlowError(f"availability answered {resp.status_code}: {resp.text[:200]}")
        return {str(r["booking_id"]) for r in resp.json()["reserved"]}

    # -- the steps ---------------------------------------------------------------------------

    def token(self) -> str:
        self.client.headers["Authorization"] = f"Bearer {get_token(self.client, *DEMO_USER)}"
        return "bearer token for demo/demo"

    def user(self) -> str:
        email = f"family-{secrets.token_hex(4)}@example.com"
        resp = self.client.post("/api/users", json={"email": email, "name": "The Smith family"})
        if resp.status_code != 201:
            raise FlowError(f"answered {resp.status_code}: {resp.text[:200]}")
        self.ids["user"] = resp.json()["id"]
        return f"user {self.ids['user']} ({email})"

    def facility(self) -> str:
        resp = self.client.post("/api/facilities", json={"name": "Chapel of Rest", "capacity": 80})
        if resp.status_code != 201:
            raise FlowError(f"answered {resp.status_code}: {resp.text[:200]}")
        self.ids["facility"] = resp.json()["id"]
        return f"facility {self.ids['facility']}"

    def confirmed(self) -> str:
        booking = self.book(10)
        if booking["status"] != "confirmed":
            reason = booking.get("reason")
            raise FlowError(f"expected confirmed, got {booking['status']} ({reason})")
        self.ids["confirmed"] = booking["id"]
        if booking["id"] not in self.reserved_ids():
            raise FlowError("the confirmed booking does not hold its slot")
        return f"booking {booking['id']} confirmed, 10:00-11:00 on {self.day} held"

    def conflict(self) -> str:
        booking = self.book(10)
        if booking["status"] != "rejected":
            raise FlowError(f"expected rejected, got {booking['status']}")
        return f"same slot again: rejected ({booking.get('reason')})"

    def declined(self) -> str:
        booking = self.book(14, payment_method="pm_card_chargeDeclined")
        if booking["status"] != "cancelled":
            raise FlowError(f"expected cancelled, got {booking['status']}")
        if booking["id"] in self.reserved_ids():
            raise FlowError("the declined booking still holds its slot")
        self.ids["declined"] = booking["id"]
        return f"card declined: cancelled ({booking.get('reason')}), 14:00 slot released"

    def cancel(self) -> str:
        booking_id = self.ids["confirmed"]
        resp = self.client.post(f"/api/bookings/{booking_id}/cancel")
        if resp.status_code not in (200, 202):
            raise FlowError(f"cancel answered {resp.status_code}: {resp.text[:200]}")
        booking = settle(self.client, resp.json())
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        while booking["status"] != "cancelled" and time.monotonic() < deadline:
            time.sleep(0.1)
            booking = self.client.get(f"/api/bookings/{booking_id}").json()
        if booking["status"] != "cancelled":
            raise FlowError(f"expected cancelled, got {booking['status']}")
        details = self.client.get(f"/api/bookings/{booking_id}/details").json()
        payment = (details.get("payment") or {}).get("status")
        if payment != "refunded":
            raise FlowError(f"payment is {payment!r}, expected refunded")
        if booking_id in self.reserved_ids():
            raise FlowError("the cancelled booking still holds its slot")
        return "confirmed booking cancelled: payment refunded, slot released"

    def notified(self) -> str:
        if not self.notifications_url:
            raise FlowError("notifications URL unknown")
        wanted = {self.ids["confirmed"], self.ids["declined"]}
        seen: dict[str, int] = {}
        deadline = time.monotonic() + SETTLE_TIMEOUT_S
        with httpx.Client(base_url=self.notifications_url, timeout=5.0) as notifications:
            while time.monotonic() < deadline:
                for booking_id in wanted:
                    resp = notifications.get("/notifications", params={"booking_id": booking_id})
                    if resp.status_code == 200:
                        seen[booking_id] = len(_items(resp.json()))
                # confirmed + cancelled for the first booking, cancelled for the declined one
                if seen.get(self.ids["confirmed"], 0) >= 2 and seen.get(self.ids["declined"], 0):
                    return f"{sum(seen.values())} notifications sent for the two bookings"
                time.sleep(0.2)
        raise FlowError(f"notifications seen per booking: {seen}")

    def steps(self) -> list[tuple[str, Callable[[], str], bool]]:
        """(title, step, required): a failed required step ends the flow."""
        return [
            ("token", self.token, True),
            ("create a user", self.user, True),
            ("create a facility", self.facility, True),
            ("book a free slot", self.confirmed, True),
            ("book the same slot again", self.conflict, False),
            ("book with a declined card", self.declined, False),
            ("cancel the confirmed booking", self.cancel, False),
            ("notifications", self.notified, False),
        ]

    def run(self) -> Iterator[Step]:
        for title, step, required in self.steps():
            try:
                yield Step(title, True, step())
            except (FlowError, httpx.HTTPError, KeyError, ValueError) as exc:
                yield Step(title, False, str(exc) or type(exc).__name__)
                if required:
                    return
