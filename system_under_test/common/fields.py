"""Request field types that cannot smuggle bad input into the database.

PostgreSQL refuses NUL characters and psycopg cannot encode lone surrogates; without these
checks such strings, valid JSON, would surface as 500s instead of 422s. Times outside what a
timestamptz round-trips through Python (year 1..9999 after conversion) are refused likewise,
and the OpenAPI document says so, so that clients and fuzzers know which times are valid.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any

from fastapi import Header
from pydantic import AfterValidator, AwareDatetime, BeforeValidator, Field, StringConstraints
from pydantic.json_schema import WithJsonSchema

from .text import NAME_PATTERN

# Years as written, before the offset is applied: a JSON Schema pattern can state that range
# exactly (it cannot compare instants). In UTC such a time lies between 1899-12-31 and
# 9000-01-01, which PostgreSQL and Python both round-trip.
EARLIEST_YEAR, LATEST_YEAR = 1900, 8999
YEAR_PREFIX = r"^(19\d\d|[2-8]\d\d\d)-"
DAY_PATTERN = YEAR_PREFIX + r"\d\d-\d\d$"
"""A YYYY-MM-DD day in those years (its calendar validity is `format: date`)."""


def _clean_text(value: str) -> str:
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise ValueError("must not contain control characters")
    try:
        value.encode("utf-8")
    except UnicodeEncodeError as exc:
        raise ValueError("must be valid Unicode text") from exc
    if not value.strip():
        raise ValueError("must not be blank")
    return value.strip()


def _iso_text(value: Any) -> Any:
    # Without this a bare number would pass as seconds since 1970; the APIs take ISO 8601.
    if not isinstance(value, str):
        raise ValueError("must be an ISO 8601 date-time string with an offset")
    return value


def _bounded_time(value: datetime) -> datetime:
    if not EARLIEST_YEAR <= value.year <= LATEST_YEAR:
        raise ValueError(f"must lie in the years {EARLIEST_YEAR} to {LATEST_YEAR}")
    return value


def _json_number(value: Any) -> Any:
    # Lax mode would read `true` as 1 and `"80"` as 80: neither is a JSON Schema integer.
    # `80.0` is one (a number with no fractional part), so numbers go on to the int rule.
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError("must be an integer")
    return value


Integer = Annotated[int, BeforeValidator(_json_number)]
"""An integer as JSON Schema's `type: integer` says: a number with no fractional part (`80`,
`80.0`); never a boolean or a string."""

Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=NAME_PATTERN),
    AfterValidator(_clean_text),
]
"""Human-readable text of up to 200 characters, no control characters, not blank."""

Timestamp = Annotated[
    AwareDatetime,
    BeforeValidator(_iso_text),
    AfterValidator(_bounded_time),
    WithJsonSchema(
        {
            "type": "string",
            "format": "date-time",
            "pattern": YEAR_PREFIX,
            "description": f"with an offset; years {EARLIEST_YEAR} to {LATEST_YEAR}",
        }
    ),
]
"""ISO 8601 text with a timezone offset, in the years 1900 to 8999 (as written)."""

PAYMENT_METHOD_PATTERN = r"^pm_[A-Za-z0-9_]+$"
MAX_PAYMENT_METHOD_LENGTH = 64

PaymentMethod = Annotated[
    str,
    StringConstraints(min_length=4, max_length=MAX_PAYMENT_METHOD_LENGTH),
    Field(
        pattern=PAYMENT_METHOD_PATTERN,
        description="a payment method token: `pm_card_visa` succeeds, `pm_card_chargeDeclined` "
        "is declined",
        examples=["pm_card_visa"],
    ),
]
"""A payment method token, `pm_` then letters, digits and underscores, at most 64 characters.

One rule on every hop, public and internal: the gateway admits it, bookings stores it (64
characters) and forwards it, payments reads it. Which tokens exist is payments' knowledge
alone: its own schema narrows this type to the methods it knows (any other is 422 there,
which a saga records as a refused charge), so neither the gateway nor bookings needs to
change when a payment method is added."""

IdempotencyKey = Annotated[
    str,
    Header(
        alias="Idempotency-Key",
        min_length=1,
        max_length=200,
        description="the same key with the same body returns the same booking; retry with it "
        "after a timeout",
    ),
]
"""The `Idempotency-Key` header of a request that places a booking: the gateway forwards it,
bookings keeps it (up to 200 characters) with a digest of the body it came with."""
