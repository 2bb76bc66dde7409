"""Accounts in PostgreSQL, inside the caller's unit of work."""

from __future__ import annotations

import uuid
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection

from .domain import User
from .orm import users


class UserRepository(Protocol):
    async def add(self, user: User) -> bool:
        """Store a new account; False (nothing stored) when its email is taken."""
        ...

    async def get(self, user_id: uuid.UUID) -> User | None: ...


class SqlUserRepository:
    def __init__(self, conn: AsyncConnection) -> None:
        self.conn = conn

    async def add(self, user: User) -> bool:
        """False when the email is taken. ON CONFLICT rather than catching the
        violation keeps the transaction usable and is race-free between requests."""
        stmt = (
            insert(users)
            .values(id=user.id, email=user.email, name=user.name, created_at=user.created_at)
            .on_conflict_do_nothing(constraint="uq_users_email")
            .returning(users.c.id)
        )
        return (await self.conn.execute(stmt)).first() is not None

    async def get(self, user_id: uuid.UUID) -> User | None:
        row = (await self.conn.execute(select(users).where(users.c.id == user_id))).first()
        if row is None:
            return None
        return User(id=row.id, email=row.email, name=row.name, created_at=row.created_at)
