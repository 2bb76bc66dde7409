"""Request field types that cannot smuggle bad input into the database.

PostgreSQL refuses NUL characters and psycopg cannot encode lone surrogates; without these
checks such strings, valid JSON, would surface as 500s instead of 422s. Times outside what a
timestamptz round-trips through Python (year 1..9999 after conversion) are refused likewise.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

from pydantic import AfterValidator, AwareDatetime, BeforeValidator, StringConstraints

from .text import NAME_PATTERN

MIN_TIME = datetime(1900, 1, 1, tzinfo=UTC)
MAX_TIME = datetime(9000, 1, 1, tzinfo=UTC)


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
    if not MIN_TIME <= value < MAX_TIME:
        raise ValueError("must be between 1900-01-01 and 9000-01-01 (UTC)")
    return value


Name = Annotated[
    str,
    StringConstraints(min_length=1, max_length=200, pattern=NAME_PATTERN),
    AfterValidator(_clean_text),
]
"""Human-readable text of up to 200 characters, no control characters, not blank."""

Timestamp = Annotated[AwareDatetime, BeforeValidator(_iso_text), AfterValidator(_bounded_time)]
"""ISO 8601 text with a timezone offset, in a range the database round-trips."""
