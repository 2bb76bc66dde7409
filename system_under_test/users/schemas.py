"""Request and response bodies of the users API."""

from __future__ import annotations

import uuid
from datetime import datetime

from pydantic import BaseModel, Field

from .domain import MAX_EMAIL_LENGTH, MAX_NAME_LENGTH


class UserIn(BaseModel):
    # Bounds here only keep absurd bodies out; the domain decides what is valid.
    email: str = Field(max_length=MAX_EMAIL_LENGTH + 64, examples=["ann@example.com"])
    name: str = Field(min_length=1, max_length=MAX_NAME_LENGTH + 64, examples=["Ann Smith"])


class UserOut(BaseModel):
    id: uuid.UUID
    email: str
    name: str
    created_at: datetime
