"""Request and response bodies of the users API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from .domain import EMAIL_PATTERN, MAX_EMAIL_LENGTH, MAX_NAME_LENGTH, NAME_PATTERN


class UserIn(BaseModel):
    # The domain's rules, said in the schema so clients can tell valid input from invalid.
    email: str = Field(
        max_length=MAX_EMAIL_LENGTH, pattern=EMAIL_PATTERN, examples=["ann@example.com"]
    )
    name: str = Field(
        min_length=1, max_length=MAX_NAME_LENGTH, pattern=NAME_PATTERN, examples=["Ann Smith"]
    )


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime
