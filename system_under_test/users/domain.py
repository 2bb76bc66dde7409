"""Accounts and the rules a new account must satisfy. No framework or I/O imports."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from datetime import datetime

from system_under_test.common.text import CONTROL, EMAIL_PATTERN, NAME_PATTERN

_EMAIL = re.compile(EMAIL_PATTERN)
_CONTROL = re.compile(rf"[{CONTROL}\ud800-\udfff]")
MAX_EMAIL_LENGTH = 254
MAX_NAME_LENGTH = 200

USER_CREATED = "user.created"


class InvalidUser(ValueError):
    """The submitted account data breaks a rule; the message says which."""


class EmailTaken(Exception):
    """Another account already uses this email address."""

    def __init__(self, email: str) -> None:
        super().__init__(f"an account with email {email!r} already exists")
        self.email = email


class UserNotFound(Exception):
    def __init__(self, user_id: uuid.UUID) -> None:
        super().__init__(f"no user with id {user_id}")
        self.user_id = user_id


@dataclass(frozen=True, slots=True)
class User:
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime


def _printable(raw: str, field: str) -> None:
    # PostgreSQL refuses NUL and the driver cannot encode lone surrogates: refusing them
    # (and every other control character) turns a would-be server error into a clear 422.
    if _CONTROL.search(raw):
        raise InvalidUser(f"{field} must not contain control characters or lone surrogates")


def normalise_email(raw: str) -> str:
    """Trimmed and lower-cased, so that the uniqueness rule ignores case."""
    _printable(raw.strip(), "email")
    email = raw.strip().lower()
    if len(email) > MAX_EMAIL_LENGTH or not _EMAIL.match(email):
        raise InvalidUser(f"{raw!r} is not an email address")
    return email


def normalise_name(raw: str) -> str:
    _printable(raw, "name")
    name = " ".join(raw.split())
    if not name or not re.match(NAME_PATTERN, name):
        raise InvalidUser("name must not be empty")
    if len(name) > MAX_NAME_LENGTH:
        raise InvalidUser(f"name must be at most {MAX_NAME_LENGTH} characters")
    return name


def register(email: str, name: str, now: datetime, user_id: uuid.UUID | None = None) -> User:
    """A new account, or InvalidUser. `now` must be timezone-aware."""
    if now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    return User(
        id=user_id or uuid.uuid4(),
        email=normalise_email(email),
        name=normalise_name(name),
        created_at=now,
    )


def created_event_data(user: User) -> dict[str, str]:
    """Payload of `user.created`: what notifications needs to greet the user."""
    return {"user_id": str(user.id), "email": user.email, "name": user.name}
