"""Rules applied to generated *valid* requests only (invalid requests stay as generated).

- A slot ends after it starts (`ends_at` > `starts_at`): the one rule of the suite's APIs that
  an OpenAPI document cannot express (JSON Schema cannot compare two fields). The services
  document the refusal (their 422 responses and the field descriptions).
- A path parameter is never null: a link that read a null value gets an id that names
  nothing (below, `no_null_in_path`).
- A run does not collide with the runs before it on the same stack: with a fixed seed, a
  second run would send the very emails, Idempotency-Keys and client-chosen ids the first one
  used, be refused every account (409), every booking (422) and every reservation of a booking
  id an earlier run released (409), and reach nothing that needs one. So emails and keys carry
  a tag of the run, and the booking ids a client chooses when it reserves or charges are
  mapped to ids of the run; within a run, repeats still meet the refusals.

Everything else a valid request needs is in the schemas (the years of times and days, the
credentials' lengths). What depends on the server's state (a user that exists, a key not used
before, a card that is not declined) is a documented refusal that the configuration
(`schemathesis.toml`) expects on those operations.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from typing import Any

from system_under_test.common.fields import LATEST_YEAR

_STEP = timedelta(hours=1)
# One per process: `st run`, `faultline fuzz` and a pytest session are one run each.
_RUN = uuid.uuid4()
RUN_TAG = _RUN.hex[:8]
# Creates whose id the client chooses (a booking's reservation and its charge).
CLIENT_CHOSEN_IDS = {
    ("PUT", "/reservations/{booking_id}"): "booking_id",
    ("PUT", "/charges/{booking_id}"): "booking_id",
}
_ISSUED: set[str] = set()
MAX_EMAIL_LENGTH = 254
MAX_KEY_LENGTH = 200


def _datetime(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo is not None else None


def slot_in_order(body: dict[str, Any]) -> None:
    """Put `starts_at` before `ends_at`, keeping both times (and their years) valid."""
    starts, ends = _datetime(body.get("starts_at")), _datetime(body.get("ends_at"))
    if starts is None or ends is None or starts < ends:
        return
    if ends < starts:
        starts, ends = ends, starts
    elif (starts + _STEP).year <= LATEST_YEAR:  # the year as written, offset kept
        ends = starts + _STEP
    else:
        starts = starts - _STEP
    body["starts_at"], body["ends_at"] = starts.isoformat(), ends.isoformat()


def _tagged(value: str, separator: str, limit: int) -> str:
    prefix = RUN_TAG + separator
    return value if value.startswith(prefix) else (prefix + value)[:limit]


def email_of_this_run(body: dict[str, Any]) -> None:
    email = body.get("email")
    if not isinstance(email, str) or email.count("@") != 1:
        return
    local, domain = email.split("@")
    local = _tagged(local, ".", MAX_EMAIL_LENGTH - len(domain) - 1)
    body["email"] = f"{local}@{domain}"


def key_of_this_run(headers: Any) -> None:
    key = headers.get("Idempotency-Key") if headers is not None else None
    if isinstance(key, str):
        headers["Idempotency-Key"] = _tagged(key, "-", MAX_KEY_LENGTH)


def no_null_in_path(path_parameters: dict[str, Any] | None) -> None:
    """A path parameter a link read as `null` becomes an id that names nothing.

    A link's value can be null: a notification about an account has no `booking_id`, and a
    link (inferred from the field's name) from the notification list to a booking's routes
    reads it. Schemathesis 4.32 still follows such a link, and the path it sends says `None`,
    which no schema admits, marked as valid data. Every path parameter of the suite's APIs is
    an id, so the valid request is the one for an id that names nothing (404, documented)."""
    if not path_parameters:
        return
    for name, value in list(path_parameters.items()):
        if value is None:
            path_parameters[name] = str(uuid.uuid5(_RUN, f"unknown {name}"))


def id_of_this_run(method: str, path: str, path_parameters: dict[str, Any] | None) -> None:
    """Map the id of a create whose id the client chooses to an id of this run, the same for
    the same generated id; ids this run already issued (drawn again from earlier responses or
    links) stay as they are."""
    name = CLIENT_CHOSEN_IDS.get((method.upper(), path))
    value = path_parameters.get(name) if name and path_parameters else None
    if not isinstance(value, str) or value in _ISSUED:
        return
    try:
        uuid.UUID(value)
    except ValueError:
        return
    issued = str(uuid.uuid5(_RUN, value))
    _ISSUED.add(issued)
    path_parameters[name] = issued  # type: ignore[index]
