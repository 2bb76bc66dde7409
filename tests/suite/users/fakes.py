"""users' repository in memory (the rules `SqlUserRepository` keeps: one account per email)."""

from __future__ import annotations

import uuid

from system_under_test.users.domain import User


class FakeUserRepository:
    def __init__(self) -> None:
        self.users: dict[uuid.UUID, User] = {}

    async def add(self, user: User) -> bool:
        if any(u.email == user.email for u in self.users.values()):
            return False
        self.users[user.id] = user
        return True

    async def get(self, user_id: uuid.UUID) -> User | None:
        return self.users.get(user_id)
