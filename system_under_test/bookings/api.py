"""HTTP routes of bookings: place, read, list and cancel bookings."""

from __future__ import annotations

import uuid
from typing import Annotated

from fastapi import APIRouter, Header, Query, Request, Response

from system_under_test.common.links import link, links
from system_under_test.common.problems import VALIDATION_FAILED, ProblemError, problem_responses

from .domain import Booking, BookingStatus, CannotCancel, InvalidBooking
from .schemas import BookingIn, BookingOut, BookingStatusName
from .service import BookingNotFound, BookingService, IdempotencyKeyReused

router = APIRouter(tags=["bookings"])

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


def _service(request: Request) -> BookingService:
    return request.app.state.bookings


def _not_found(booking_id: uuid.UUID) -> ProblemError:
    return ProblemError(404, "Booking not found", f"no booking {booking_id}")


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
    body: BookingIn,
    request: Request,
    response: Response,
    idempotency_key: Annotated[
        str,
        Header(
            alias="Idempotency-Key",
            min_length=1,
            max_length=200,
            description="the same key with the same body returns the same booking",
        ),
    ],
) -> BookingOut:
    try:
        booking = Booking.create(**body.model_dump())
        stored, _ = await _service(request).place(idempotency_key, booking)
    except InvalidBooking as exc:
        raise ProblemError(422, VALIDATION_FAILED, str(exc)) from exc
    except IdempotencyKeyReused as exc:
        raise ProblemError(
            422,
            "Idempotency key reused",
            "this Idempotency-Key was already used for a different booking request",
        ) from exc
    response.status_code = 201 if stored.booking.terminal and stored.settled else 202
    return BookingOut.of(stored)


@router.get(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    summary="One booking",
    responses=problem_responses(404, 422),
)
async def get_booking(booking_id: uuid.UUID, request: Request) -> BookingOut:
    try:
        return BookingOut.of(await _service(request).get(booking_id))
    except BookingNotFound as exc:
        raise _not_found(booking_id) from exc


@router.get(
    "/bookings",
    response_model=list[BookingOut],
    summary="Bookings, oldest first, optionally with one status",
    responses=problem_responses(422),
)
async def list_bookings(
    request: Request,
    status: BookingStatusName | None = None,
    limit: Annotated[int, Query(ge=1, le=10_000)] = 1000,
) -> list[BookingOut]:
    wanted = BookingStatus(status) if status else None
    return [BookingOut.of(s) for s in await _service(request).list_bookings(wanted, limit)]


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
async def cancel_booking(booking_id: uuid.UUID, request: Request, response: Response) -> BookingOut:
    try:
        stored = await _service(request).cancel(booking_id)
    except BookingNotFound as exc:
        raise _not_found(booking_id) from exc
    except CannotCancel as exc:
        raise ProblemError(409, "Booking cannot be cancelled", str(exc)) from exc
    if stored.booking.status is not BookingStatus.CANCELLED:
        response.status_code = 202
    return BookingOut.of(stored)
