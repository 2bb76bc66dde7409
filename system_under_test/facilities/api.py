"""HTTP routes of facilities (see docs/architecture.md, "Internal HTTP APIs")."""

from __future__ import annotations

import re
from datetime import date
from typing import Annotated, Any
from uuid import UUID

from fastapi import APIRouter, Depends, Query, Response
from pydantic import BeforeValidator

from system_under_test.common.app import Problems, service_layer
from system_under_test.common.fields import DAY_PATTERN, EARLIEST_YEAR, LATEST_YEAR
from system_under_test.common.links import link, links
from system_under_test.common.problems import problem_responses

from .domain import (
    FacilitiesError,
    FacilityNotFound,
    InvalidSlot,
    Reservation,
    ReservationMismatch,
    ReservationNotFound,
    ReservationReleased,
    Slot,
    SlotUnavailable,
)
from .schemas import (
    AvailabilityOut,
    FacilityIn,
    FacilityOut,
    ReservationIn,
    ReservationOut,
    ReservedSlot,
)
from .service import FacilitiesService

router = APIRouter()
# The rules a request can break, as the problem each is answered with.
PROBLEMS: Problems = {
    FacilityNotFound: (404, "Facility not found"),
    ReservationNotFound: (404, "Reservation not found"),
    SlotUnavailable: (409, "Slot unavailable"),
    ReservationReleased: (409, "Reservation released"),
    ReservationMismatch: (409, "Booking holds another reservation"),
    InvalidSlot: (422, "Invalid slot"),
    FacilitiesError: (409, "Conflict"),
}
_DAY = re.compile(DAY_PATTERN)

_FACILITY_LINKS = links(
    GetFacility=link(
        "GET", "/facilities/{facility_id}", "the facility", facility_id="$response.body#/id"
    ),
    GetAvailability=link(
        "GET",
        "/facilities/{facility_id}/availability",
        "the facility's reserved slots on a day",
        facility_id="$response.body#/id",
    ),
    ReserveSlot=link(
        "PUT",
        "/reservations/{booking_id}",
        "hold a slot in the facility, for a booking id of the caller's choosing",
        body={"facility_id": "$response.body#/id"},
    ),
)
# A reservation is addressed by its booking's id, which the client chose in the PUT.
_RESERVATION_LINKS = links(
    GetReservation=link(
        "GET",
        "/reservations/{booking_id}",
        "the reservation",
        booking_id="$request.path.booking_id",
    ),
    ConfirmReservation=link(
        "POST",
        "/reservations/{booking_id}/confirm",
        "confirm the held slot",
        booking_id="$request.path.booking_id",
    ),
    ReleaseReservation=link(
        "POST",
        "/reservations/{booking_id}/release",
        "free the slot",
        booking_id="$request.path.booking_id",
    ),
    GetAvailability=link(
        "GET",
        "/facilities/{facility_id}/availability",
        "the facility's reserved slots on a day",
        facility_id="$response.body#/facility_id",
    ),
)


def _calendar_day(value: Any) -> Any:
    # A bare number would otherwise be read as seconds since 1970 (`?date=0` is 1970-01-01).
    # The range is the one times are stored in; the schema states it with the same pattern.
    if isinstance(value, str) and not _DAY.match(value):
        raise ValueError(f"must be a YYYY-MM-DD date in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


Service = Annotated[FacilitiesService, Depends(service_layer)]


def _out(reservation: Reservation) -> ReservationOut:
    assert reservation.slot is not None and reservation.facility_id is not None
    return ReservationOut(
        booking_id=reservation.booking_id,
        facility_id=reservation.facility_id,
        starts_at=reservation.slot.starts_at,
        ends_at=reservation.slot.ends_at,
        status=reservation.status.value,
    )


@router.post(
    "/facilities",
    status_code=201,
    response_model=FacilityOut,
    responses={201: {"description": "the facility, created", **_FACILITY_LINKS}},
    tags=["facilities"],
)
async def create_facility(body: FacilityIn, service: Service) -> FacilityOut:
    facility = await service.create_facility(body.name, body.capacity)
    return FacilityOut(id=facility.id, name=facility.name, capacity=facility.capacity)


@router.get("/facilities", response_model=list[FacilityOut], tags=["facilities"])
async def list_facilities(
    service: Service,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0, le=1_000_000)] = 0,
) -> list[FacilityOut]:
    found = await service.list_facilities(limit, offset)
    return [FacilityOut(id=f.id, name=f.name, capacity=f.capacity) for f in found]


@router.get(
    "/facilities/{facility_id}",
    response_model=FacilityOut,
    responses=problem_responses(404),
    tags=["facilities"],
)
async def get_facility(facility_id: UUID, service: Service) -> FacilityOut:
    facility = await service.get_facility(facility_id)
    return FacilityOut(id=facility.id, name=facility.name, capacity=facility.capacity)


@router.get(
    "/facilities/{facility_id}/availability",
    response_model=AvailabilityOut,
    responses=problem_responses(404),
    tags=["facilities"],
)
async def availability(
    facility_id: UUID,
    day: Annotated[
        date,
        BeforeValidator(_calendar_day),
        Query(
            alias="date",
            description="UTC day, YYYY-MM-DD, years 1900 to 8999",
            json_schema_extra={"pattern": DAY_PATTERN},
        ),
    ],
    service: Service,
) -> AvailabilityOut:
    reserved = await service.availability(facility_id, day)
    return AvailabilityOut(
        facility_id=facility_id,
        date=day,
        reserved=[
            ReservedSlot(
                booking_id=r.booking_id, starts_at=r.slot.starts_at, ends_at=r.slot.ends_at
            )
            for r in reserved
            if r.slot is not None
        ],
    )


@router.put(
    "/reservations/{booking_id}",
    status_code=201,
    response_model=ReservationOut,
    responses={
        201: {"description": "the slot is held for the booking", **_RESERVATION_LINKS},
        200: {
            "model": ReservationOut,
            "description": "the same booking again (idempotent)",
            **_RESERVATION_LINKS,
        },
        **problem_responses(404, 409),
        422: {
            "description": "Validation failed: the body breaks the schema, or `ends_at` is not "
            "after `starts_at` (a rule the schema cannot state)",
        },
    },
    tags=["reservations"],
)
async def reserve(
    booking_id: UUID,
    body: ReservationIn,
    response: Response,
    service: Service,
) -> ReservationOut:
    """Hold the slot for the booking: 201 new, 200 the same request again, 409 taken."""
    result = await service.reserve(booking_id, body.facility_id, Slot(body.starts_at, body.ends_at))
    if not result.created:
        response.status_code = 200
    return _out(result.reservation)


# A state change, not a deletion: the released reservation stays readable (and keeps a
# late reserve for the same booking from taking the slot), so this is POST, not DELETE.
@router.post("/reservations/{booking_id}/release", status_code=204, tags=["reservations"])
async def release(booking_id: UUID, service: Service) -> Response:
    """Free the slot; idempotent, also for a booking never reserved."""
    await service.release(booking_id)
    return Response(status_code=204)


@router.post(
    "/reservations/{booking_id}/confirm",
    response_model=ReservationOut,
    responses=problem_responses(404, 409),
    tags=["reservations"],
)
async def confirm(booking_id: UUID, service: Service) -> ReservationOut:
    """held → confirmed (idempotent); 409 when the reservation was released."""
    return _out(await service.confirm(booking_id))


@router.get(
    "/reservations/{booking_id}",
    response_model=ReservationOut,
    responses=problem_responses(404),
    tags=["reservations"],
)
async def get_reservation(booking_id: UUID, service: Service) -> ReservationOut:
    return _out(await service.get_reservation(booking_id))
