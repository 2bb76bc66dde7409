"""Rules of the suite's APIs that an OpenAPI document cannot express, applied to generated
*valid* requests only (so they stay valid); invalid requests are left as generated.

- a slot ends after it starts (`ends_at` > `starts_at`: JSON Schema cannot compare fields);
- times and days lie between 1900 and 9000 (a `date-time` format has no minimum);
- an `Idempotency-Key` names one request, so each new valid request gets its own key;
- a booking names a user and a facility that exist, when the run knows some (the gateway
  refuses unknown references with 422).
"""

from __future__ import annotations

import itertools
import os
import uuid
from datetime import date, datetime, timedelta
from typing import Any

EARLIEST_YEAR, LATEST_YEAR = 1901, 8998
IN_RANGE = datetime.fromisoformat("2030-05-01T10:00:00+00:00")
REFERENCE_ENV = {"user_id": "FAULTLINE_FUZZ_USER_ID", "facility_id": "FAULTLINE_FUZZ_FACILITY_ID"}
_KEYS = itertools.count(1)
# Per process: a long-running stack keeps keys from earlier runs.
_RUN = uuid.uuid4().hex[:8]


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def _in_range(moment: datetime) -> bool:
    return EARLIEST_YEAR <= moment.year <= LATEST_YEAR


def slot_in_order(body: dict[str, Any]) -> None:
    starts, ends = _datetime(body.get("starts_at")), _datetime(body.get("ends_at"))
    if starts is None or ends is None:
        return
    if not _in_range(starts):
        starts = IN_RANGE
    if not _in_range(ends) or ends <= starts:
        ends = starts + timedelta(hours=2)
    body["starts_at"], body["ends_at"] = starts.isoformat(), ends.isoformat()


def day_in_range(query: dict[str, Any]) -> None:
    value = query.get("date")
    if not isinstance(value, str):
        return
    try:
        day = date.fromisoformat(value)
    except ValueError:
        return
    if not EARLIEST_YEAR <= day.year <= LATEST_YEAR:
        query["date"] = IN_RANGE.date().isoformat()


def known_references(body: dict[str, Any], environ: dict[str, str] | None = None) -> None:
    env = os.environ if environ is None else environ
    for field, name in REFERENCE_ENV.items():
        if field in body and env.get(name):
            body[field] = env[name]


def fresh_idempotency_key(headers: Any) -> None:
    if headers is not None and "Idempotency-Key" in headers:
        headers["Idempotency-Key"] = f"fuzz-{_RUN}-{next(_KEYS)}"
