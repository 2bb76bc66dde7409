"""Every operation of the suite, defined once: each function describes one call (`Call`) and
the sync and async clients run it. The first argument is the client, for what it keeps (the
slot allocator); routes are given for both sides, internal (`path`) and public (`public`,
under `/api` on the gateway)."""

from __future__ import annotations

import secrets
import uuid
from collections.abc import Callable, Iterable
from datetime import date
from typing import TYPE_CHECKING, Any, TypeVar

from pydantic import BaseModel

from harness.service_metrics import Samples

from .calls import Call, Payload
from .models import (
    GOOD_CARD,
    Availability,
    Booking,
    BookingDetails,
    BookingStatus,
    Charge,
    Facility,
    FacilityList,
    Notification,
    Reservation,
    Token,
    User,
)
from .slots import Slot

if TYPE_CHECKING:
    from .client import ClientCore

M = TypeVar("M", bound=BaseModel)

CREATED = frozenset({201})
OK = frozenset({200})
# A booking answers 201 when its saga ended, 202 while it is still pending.
PLACED = frozenset({200, 201, 202})
# A cancellation answers 202 while the refund or release is still being retried.
CANCELLING = frozenset({200, 202})
SUCCESS = frozenset(range(200, 300))
FACILITY_PAGE = 500  # the facilities service's largest page
AMOUNT_CENTS = 25000


def _list_of(model: type[M]) -> Callable[[Any], list[M]]:
    def parse(body: Any) -> list[M]:
        # Lists come bare from the services, wrapped in {"items": [...]} from some routes.
        items = body.get("items") if isinstance(body, dict) else body
        if not isinstance(items, list):
            raise ValueError(f"expected a list, got {type(body).__name__}")
        return [model.model_validate(item) for item in items]

    return parse


def _keep_token(client: ClientCore, token: Token) -> None:
    client.token = token.access_token


def login(client: ClientCore, username: str = "demo", password: str = "demo") -> Call[Token]:
    """A bearer token from the gateway, kept for every later call of this client."""
    return Call(
        "POST",
        "gateway",
        None,
        "/auth/token",
        Token.model_validate,
        payload=Payload(data={"username": username, "password": password}),
        anonymous=True,
        keep=_keep_token,
    )


def create_user(
    client: ClientCore, email: str | None = None, name: str = "The Smith family"
) -> Call[User]:
    """A family's account; `email` defaults to a fresh address."""
    email = email or f"family-{secrets.token_hex(6)}@example.com"
    body = {"email": email, "name": name}
    return Call(
        "POST", "users", "/users", "/users", User.model_validate, CREATED, Payload(json=body)
    )


def get_user(client: ClientCore, user_id: str) -> Call[User]:
    path = f"/users/{user_id}"
    return Call("GET", "users", path, path, User.model_validate)


def create_facility(
    client: ClientCore, name: str = "Chapel of Rest", capacity: int = 80
) -> Call[Facility]:
    body = {"name": name, "capacity": capacity}
    path = "/facilities"
    return Call(
        "POST", "facilities", path, path, Facility.model_validate, CREATED, Payload(json=body)
    )


def facilities(client: ClientCore) -> Call[FacilityList]:
    """Every facility (one page of the service's largest size; the gateway sends it whole)."""
    params = {"limit": FACILITY_PAGE}
    path = "/facilities"
    return Call(
        "GET", "facilities", path, path, FacilityList.model_validate, payload=Payload(params=params)
    )


def facility(client: ClientCore, facility_id: str) -> Call[Facility]:
    path = f"/facilities/{facility_id}"
    return Call("GET", "facilities", path, path, Facility.model_validate)


def availability(client: ClientCore, facility_id: str, day: date | str) -> Call[Availability]:
    """The slots held or confirmed at a facility on one (UTC) day."""
    path = f"/facilities/{facility_id}/availability"
    params = {"date": day.isoformat() if isinstance(day, date) else day}
    return Call(
        "GET", "facilities", path, path, Availability.model_validate, payload=Payload(params=params)
    )


def book(
    client: ClientCore,
    user_id: str,
    facility_id: str,
    slot: Slot | None = None,
    *,
    payment_method: str = GOOD_CARD,
    amount_cents: int = AMOUNT_CENTS,
    key: str | None = None,
    timeout: float | None = None,
    correlation_id: str | None = None,
) -> Call[Booking]:
    """Place a booking: `slot` defaults to the client's next free one, `key` (the
    Idempotency-Key) to a fresh one; the same key again returns the same booking."""
    slot = slot or client.slots.take()
    headers = {"Idempotency-Key": key or uuid.uuid4().hex}
    if correlation_id:
        headers["X-Correlation-ID"] = correlation_id
    body = {
        "user_id": str(user_id),
        "facility_id": str(facility_id),
        "starts_at": slot.starts_at.isoformat(),
        "ends_at": slot.ends_at.isoformat(),
        "amount_cents": amount_cents,
        "payment_method": payment_method,
    }
    return Call(
        "POST",
        "bookings",
        "/bookings",
        "/bookings",
        Booking.model_validate,
        PLACED,
        Payload(json=body, headers=headers, timeout=timeout),
    )


def booking(client: ClientCore, booking_id: str) -> Call[Booking]:
    path = f"/bookings/{booking_id}"
    return Call("GET", "bookings", path, path, Booking.model_validate)


def cancel(client: ClientCore, booking_id: str) -> Call[Booking]:
    """Cancel a confirmed booking (refund, release); pending until both are done."""
    path = f"/bookings/{booking_id}/cancel"
    return Call("POST", "bookings", path, path, Booking.model_validate, CANCELLING)


def booking_details(client: ClientCore, booking_id: str) -> Call[BookingDetails]:
    """The gateway's composition of a booking, its facility, user and payment."""
    public = f"/bookings/{booking_id}/details"
    return Call("GET", "bookings", None, public, BookingDetails.model_validate)


def bookings(
    client: ClientCore, status: BookingStatus | None = None, limit: int = 1000
) -> Call[list[Booking]]:
    """Bookings, oldest first (the bookings service's own route)."""
    params = {"status": status, "limit": limit}
    return Call(
        "GET", "bookings", "/bookings", None, _list_of(Booking), payload=Payload(params=params)
    )


def notifications(
    client: ClientCore, booking_id: str | None = None, user_id: str | None = None
) -> Call[list[Notification]]:
    """Messages sent, oldest first, for a booking and/or a user."""
    params = {"booking_id": booking_id, "user_id": user_id}
    path = "/notifications"
    return Call(
        "GET", "notifications", path, path, _list_of(Notification), payload=Payload(params=params)
    )


def reservation(client: ClientCore, booking_id: str) -> Call[Reservation]:
    """A booking's hold on its slot, as facilities keeps it."""
    path = f"/reservations/{booking_id}"
    return Call("GET", "facilities", path, None, Reservation.model_validate)


def charge(client: ClientCore, booking_id: str) -> Call[Charge]:
    """A booking's charge, as payments keeps it."""
    path = f"/charges/{booking_id}"
    return Call("GET", "payments", path, None, Charge.model_validate)


def metrics(client: ClientCore, service: str = "gateway") -> Call[Samples]:
    """A service's Prometheus samples (`/metrics`)."""
    return Call("GET", service, "/metrics", None, Samples.parse, raw=True)


def send(
    client: ClientCore,
    method: str,
    path: str,
    *,
    service: str = "gateway",
    params: dict[str, Any] | None = None,
    json: Any = None,
    data: dict[str, str] | None = None,
    content: bytes | None = None,
    headers: dict[str, str] | None = None,
    timeout: float | None = None,
    expect: Iterable[int] | None = None,
) -> Call[Any]:
    """Any request, as is, to `path` on a service's base URL (the gateway's, in public mode);
    the bearer token goes along when the client has one. `ok` when the status is in `expect`
    (default: any 2xx)."""
    return Call(
        method,
        service,
        path,
        None,
        expect=SUCCESS if expect is None else frozenset(expect),
        payload=Payload(params, json, data, content, headers or {}, timeout),
        raw=True,
    )
