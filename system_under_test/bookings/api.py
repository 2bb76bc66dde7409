"""HTTP routes of bookings: place, read, list and cancel bookings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Response

from system_under_test.common.app import Problems, service_layer
from system_under_test.common.booking_request import BookingIn
from system_under_test.common.fields import IdempotencyKey
from system_under_test.common.links import link, links
from system_under_test.common.problems import VALIDATION_FAILED, problem_responses

from .domain import Booking, BookingStatus, CannotCancel, InvalidBooking
from .schemas import BookingOut, BookingStatusName
from .service import BookingNotFound, BookingService, IdempotencyKeyReused

router = APIRouter(tags=["bookings"])
# The rules a request can break, as the problem each is answered with.
PROBLEMS: Problems = {
    InvalidBooking: (422, VALIDATION_FAILED),
    IdempotencyKeyReused: (422, "Idempotency key reused"),
    BookingNotFound: (404, "Booking not found"),
    CannotCancel: (409, "Booking cannot be cancelled"),
}
Service = Annotated[BookingService, Depends(service_layer)]

_BOOKING_LINKS = links(
    GetBooking=link(
        "GET", "/bookings/{booking_id}", "the booking", booking_id="$response.body#/id"
    ),
    CancelBooking=link(
        "POST",
        "/bookings/{booking_id}/cancel",
        "cancel it: refund, release the slot",
        booking_id="$response.body#/id",
    ),
)


@router.post(
    "/bookings",
    status_code=201,
    response_model=BookingOut,
    summary="Place a booking and run its saga (reserve, charge, confirm)",
    responses={
        201: {
            "description": "The saga finished: confirmed, rejected or cancelled",
            **_BOOKING_LINKS,
        },
        202: {
            "model": BookingOut,
            "description": "Still pending; it completes in the background",
            **_BOOKING_LINKS,
        },
        **problem_responses(400, 413),
        422: {
            "description": "Validation failed: the body breaks the schema, or `ends_at` is not "
            "after `starts_at` (a rule the schema cannot state). Or Idempotency key reused: "
            "the key was already used for a different booking request"
        },
    },
)
async def place_booking(
    body: BookingIn, idempotency_key: IdempotencyKey, response: Response, service: Service
) -> BookingOut:
    stored, _ = await service.place(idempotency_key, Booking.create(**body.model_dump()))
    response.status_code = 201 if stored.booking.terminal and stored.settled else 202
    return BookingOut.of(stored)


@router.get(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    summary="One booking",
    responses=problem_responses(404, 422),
)
async def get_booking(booking_id: uuid.UUID, service: Service) -> BookingOut:
    return BookingOut.of(await service.get(booking_id))


@router.get(
    "/bookings",
    response_model=list[BookingOut],
    summary="Bookings, oldest first, optionally with one status",
    responses=problem_responses(422),
)
async def list_bookings(
    service: Service,
    status: BookingStatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[BookingOut]:
    wanted = BookingStatus(status) if status else None
    return [BookingOut.of(s) for s in await service.list_bookings(wanted, limit)]


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    summary="Cancel a confirmed booking: refund, release the slot",
    responses={
        200: {"description": "Cancelled (or already cancelled)"},
        202: {
            "model": BookingOut,
            "description": "Cancellation under way (refund or release being retried)",
        },
        **problem_responses(404, 409, 422),
    },
)
async def cancel_booking(booking_id: uuid.UUID, response: Response, service: Service) -> BookingOut:
    stored = await service.cancel(booking_id)
    if stored.booking.status is not BookingStatus.CANCELLED:
        response.status_code = 202
    return BookingOut.of(stored)
