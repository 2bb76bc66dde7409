"""The public API: `/api/...` routes, each a thin relay to the service that owns the data."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, date, datetime
from typing import Annotated, Any

import httpx
from fastapi import APIRouter, Depends, Form, Query
from fastapi.encoders import jsonable_encoder
from fastapi.responses import JSONResponse
from prometheus_client import Counter

from system_under_test.common.booking_request import BookingIn
from system_under_test.common.fields import DAY_PATTERN, IdempotencyKey
from system_under_test.common.links import link, links
from system_under_test.common.problems import VALIDATION_FAILED, ProblemError, problem_responses
from system_under_test.common.resilience import DownstreamError

from . import tokens
from .auth import State, rate_limit, rate_limit_by_address, require_token
from .clients import body_of
from .schemas import (
    Availability,
    Booking,
    BookingDetails,
    Facility,
    FacilityIn,
    FacilityList,
    Notification,
    Token,
    TokenForm,
    User,
    UserIn,
)

# The facilities service's page maximum; the public list is one page, cached whole.
FACILITY_LIST_LIMIT = 500
# Notifications are listed a bounded page at a time: without a filter the list is everyone's.
NOTIFICATION_LIST_LIMIT = 500
DEFAULT_NOTIFICATIONS = 100
# A refusal on a business rule, told apart from a validation failure by its title.
UNKNOWN_REFERENCE = "Unknown reference"
STALE_WARNING = '110 - "Response is Stale"'
STALE_RESPONSES = Counter(
    "faultline_gateway_stale_responses_total",
    "Facility lists served from the last good copy because facilities did not answer",
)

public = APIRouter(prefix="/api", dependencies=[Depends(rate_limit_by_address)], tags=["auth"])
api = APIRouter(prefix="/api", dependencies=[Depends(rate_limit), Depends(require_token)])


_BOOKING_LINKS = links(
    GetBooking=link(
        "GET", "/api/bookings/{booking_id}", "the booking", booking_id="$response.body#/id"
    ),
    GetBookingDetails=link(
        "GET",
        "/api/bookings/{booking_id}/details",
        "the booking with its facility, user and payment",
        booking_id="$response.body#/id",
    ),
    CancelBooking=link(
        "POST",
        "/api/bookings/{booking_id}/cancel",
        "cancel it: refund, release the slot",
        booking_id="$response.body#/id",
    ),
)


def _errors(*statuses: int) -> dict[int | str, dict[str, Any]]:
    # Every /api route can be rate limited; every guarded one can be refused a token.
    return problem_responses(*sorted({429, *statuses}))


def _relay(response: httpx.Response) -> JSONResponse:
    return JSONResponse(body_of(response), status_code=response.status_code)


@public.post(
    "/auth/token",
    response_model=Token,
    summary="Obtain a bearer token (demo account: demo / demo)",
    responses=_errors(401, 422),
)
async def issue_token(state: State, form: Annotated[TokenForm, Form()]) -> Token:
    if not tokens.check_credentials(form.username, form.password):
        raise ProblemError(
            401, detail="unknown username or wrong password", headers={"WWW-Authenticate": "Bearer"}
        )
    ttl = state.settings.token_ttl_s
    return Token(
        access_token=tokens.issue(form.username, state.settings.signing_key, ttl),
        expires_in=ttl,
    )


# --- users -------------------------------------------------------------------------------


@api.post(
    "/users",
    status_code=201,
    response_model=User,
    tags=["users"],
    responses={
        201: {
            "description": "the account, created",
            **links(
                GetUser=link(
                    "GET", "/api/users/{user_id}", "the account", user_id="$response.body#/id"
                )
            ),
        },
        **_errors(401, 409, 422, 503),
    },
)
async def create_user(body: UserIn, state: State) -> JSONResponse:
    # Not idempotent (no key to deduplicate by), so never retried.
    users = state.downstreams["users"]
    return _relay(await users.request("POST", "/users", idempotent=False, json=body.model_dump()))


@api.get(
    "/users/{user_id}", response_model=User, tags=["users"], responses=_errors(401, 404, 422, 503)
)
async def get_user(user_id: uuid.UUID, state: State) -> JSONResponse:
    return _relay(
        await state.downstreams["users"].request("GET", f"/users/{user_id}", idempotent=True)
    )


# --- facilities --------------------------------------------------------------------------


@api.post(
    "/facilities",
    status_code=201,
    response_model=Facility,
    tags=["facilities"],
    responses={
        201: {
            "description": "the facility, created",
            **links(
                GetFacility=link(
                    "GET",
                    "/api/facilities/{facility_id}",
                    "the facility",
                    facility_id="$response.body#/id",
                ),
                GetAvailability=link(
                    "GET",
                    "/api/facilities/{facility_id}/availability",
                    "its reserved slots on a day",
                    facility_id="$response.body#/id",
                ),
            ),
        },
        **_errors(401, 409, 422, 503),
    },
)
async def create_facility(body: FacilityIn, state: State) -> JSONResponse:
    facilities = state.downstreams["facilities"]
    response = await facilities.request(
        "POST", "/facilities", idempotent=False, json=body.model_dump()
    )
    if response.status_code < 400:
        state.facilities_cache.invalidate()
    return _relay(response)


def _items(body: Any) -> list[Any]:
    items = body.get("items") if isinstance(body, dict) else body
    if not isinstance(items, list):
        raise ProblemError(503, "Downstream unavailable", "facilities: unexpected list format")
    return items


@api.get(
    "/facilities",
    response_model=FacilityList,
    tags=["facilities"],
    responses={
        200: {
            "description": "The facility list; `stale` while facilities is unreachable",
            "headers": {
                "Warning": {
                    "description": f"`{STALE_WARNING}` when the list is the last good copy",
                    "schema": {"type": "string"},
                }
            },
        },
        **_errors(401, 503),
    },
)
async def list_facilities(state: State) -> JSONResponse:
    cache = state.facilities_cache
    snapshot = cache.fresh()
    if snapshot is None:
        try:
            response = await state.downstreams["facilities"].request(
                "GET", "/facilities", idempotent=True, params={"limit": FACILITY_LIST_LIMIT}
            )
        except DownstreamError:
            snapshot = cache.last_good()
            if snapshot is None:
                raise
            STALE_RESPONSES.inc()
            body = {"items": snapshot.items, "stale": True, "fetched_at": snapshot.fetched_at}
            return JSONResponse(jsonable_encoder(body), headers={"Warning": STALE_WARNING})
        snapshot = cache.store(_items(body_of(response)), datetime.now(UTC))
    body = {"items": snapshot.items, "stale": False, "fetched_at": snapshot.fetched_at}
    return JSONResponse(jsonable_encoder(body))


@api.get(
    "/facilities/{facility_id}",
    response_model=Facility,
    tags=["facilities"],
    responses=_errors(401, 404, 422, 503),
)
async def get_facility(facility_id: uuid.UUID, state: State) -> JSONResponse:
    facilities = state.downstreams["facilities"]
    return _relay(await facilities.request("GET", f"/facilities/{facility_id}", idempotent=True))


@api.get(
    "/facilities/{facility_id}/availability",
    response_model=Availability,
    tags=["facilities"],
    responses=_errors(401, 404, 422, 503),
)
async def get_availability(
    facility_id: uuid.UUID,
    state: State,
    # A string, not a `date`: FastAPI would otherwise read a bare number as a Unix time.
    day: Annotated[
        str,
        Query(
            alias="date",
            pattern=DAY_PATTERN,
            description="YYYY-MM-DD, years 1900 to 8999",
            json_schema_extra={"format": "date"},
        ),
    ],
) -> JSONResponse:
    try:
        date.fromisoformat(day)
    except ValueError:
        raise ProblemError(
            422, VALIDATION_FAILED, detail=f"date: {day!r} is not a calendar date"
        ) from None
    facilities = state.downstreams["facilities"]
    response = await facilities.request(
        "GET",
        f"/facilities/{facility_id}/availability",
        idempotent=True,
        params={"date": day},
    )
    return _relay(response)


# --- bookings ----------------------------------------------------------------------------


async def _gather(*calls: Any) -> list[httpx.Response]:
    # All calls run to completion, so no task is left behind when one fails.
    results = await asyncio.gather(*calls, return_exceptions=True)
    for result in results:
        if isinstance(result, BaseException):
            raise result
    return list(results)


@api.post(
    "/bookings",
    status_code=201,
    response_model=Booking,
    tags=["bookings"],
    responses={
        201: {
            "description": "The booking reached its outcome (confirmed, rejected, cancelled)",
            **_BOOKING_LINKS,
        },
        202: {
            "description": "Accepted, still pending: poll GET /api/bookings/{id}",
            "model": Booking,
            **_BOOKING_LINKS,
        },
        **_errors(401, 409, 503),
        422: {
            "description": "Validation failed: the body breaks the schema, or `ends_at` is not "
            "after `starts_at` (a rule the schema cannot state). Unknown reference: `user_id` "
            "or `facility_id` names no user or facility. Idempotency key reused: the key was "
            "already used for a different booking request"
        },
    },
)
async def create_booking(
    body: BookingIn, idempotency_key: IdempotencyKey, state: State
) -> JSONResponse:
    ds = state.downstreams
    # The user and the facility must exist (422 otherwise); one seen before is not looked up
    # again, which spares two calls on every booking after a family's first.
    lookups = {
        field: (name, f"/{name}/{value}")
        for field, name, value in (
            ("user_id", "users", body.user_id),
            ("facility_id", "facilities", body.facility_id),
        )
        if (name, str(value)) not in state.known
    }
    answers = await _gather(
        *(ds[name].request("GET", path, idempotent=True) for name, path in lookups.values())
    )
    for (field, (name, _)), response in zip(lookups.items(), answers, strict=True):
        if response.status_code == 404:
            raise ProblemError(
                422, UNKNOWN_REFERENCE, detail=f"{field}: no such {field.removesuffix('_id')}"
            )
        body_of(response)
        state.known.add((name, str(getattr(body, field))))
    # Retried safely: bookings deduplicates by the Idempotency-Key we forward. bookings runs
    # the saga for up to its budget before it answers (202 when still pending), so waiting
    # less would turn every slow saga into a timeout, a retry and a breaker failure.
    settings = state.settings
    response = await ds["bookings"].request(
        "POST",
        "/bookings",
        idempotent=True,
        json=body.model_dump(mode="json"),
        headers={"Idempotency-Key": idempotency_key},
        timeout_s=settings.http_timeout_s + settings.saga_budget_s,
    )
    return _relay(response)


@api.get(
    "/bookings/{booking_id}",
    response_model=Booking,
    tags=["bookings"],
    responses=_errors(401, 404, 422, 503),
)
async def get_booking(booking_id: uuid.UUID, state: State) -> JSONResponse:
    bookings = state.downstreams["bookings"]
    return _relay(await bookings.request("GET", f"/bookings/{booking_id}", idempotent=True))


@api.post(
    "/bookings/{booking_id}/cancel",
    response_model=Booking,
    tags=["bookings"],
    responses={
        202: {
            "description": "Cancellation under way: poll GET /api/bookings/{id}",
            "model": Booking,
        },
        **_errors(401, 404, 409, 422, 503),
    },
)
async def cancel_booking(booking_id: uuid.UUID, state: State) -> JSONResponse:
    bookings = state.downstreams["bookings"]
    return _relay(
        await bookings.request("POST", f"/bookings/{booking_id}/cancel", idempotent=False)
    )


def _optional(response: httpx.Response) -> Any:
    return None if response.status_code == 404 else body_of(response)


@api.get(
    "/bookings/{booking_id}/details",
    response_model=BookingDetails,
    tags=["bookings"],
    responses=_errors(401, 404, 422, 503),
)
async def get_booking_details(booking_id: uuid.UUID, state: State) -> JSONResponse:
    ds = state.downstreams
    booking = body_of(
        await ds["bookings"].request("GET", f"/bookings/{booking_id}", idempotent=True)
    )
    facility, user, payment = await _gather(
        ds["facilities"].request("GET", f"/facilities/{booking['facility_id']}", idempotent=True),
        ds["users"].request("GET", f"/users/{booking['user_id']}", idempotent=True),
        ds["payments"].request("GET", f"/charges/{booking_id}", idempotent=True),
    )
    return JSONResponse(
        {
            "booking": booking,
            "facility": _optional(facility),
            "user": _optional(user),
            "payment": _optional(payment),
        }
    )


# --- notifications -----------------------------------------------------------------------


@api.get(
    "/notifications",
    response_model=list[Notification],
    tags=["notifications"],
    summary="Messages sent about a booking or to a user, oldest first",
    responses=_errors(401, 422, 503),
)
async def list_notifications(
    state: State,
    booking_id: Annotated[
        uuid.UUID | None, Query(description="only the messages about this booking")
    ] = None,
    user_id: Annotated[
        uuid.UUID | None, Query(description="only the messages to this user")
    ] = None,
    limit: Annotated[
        int, Query(ge=1, le=NOTIFICATION_LIST_LIMIT, description="at most this many")
    ] = DEFAULT_NOTIFICATIONS,
) -> JSONResponse:
    params: dict[str, Any] = {"limit": limit}
    if booking_id is not None:
        params["booking_id"] = str(booking_id)
    if user_id is not None:
        params["user_id"] = str(user_id)
    notifications = state.downstreams["notifications"]
    return _relay(
        await notifications.request("GET", "/notifications", idempotent=True, params=params)
    )
