"""Use cases of users: register an account (and announce it), look one up."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime

from system_under_test.common.events import make_event
from system_under_test.common.uow import UnitOfWork

from . import domain
from .domain import EmailTaken, User, UserNotFound
from .repository import UserRepository


def _now() -> datetime:
    return datetime.now(UTC)


class UserService:
    def __init__(
        self, uow: UnitOfWork[UserRepository], clock: Callable[[], datetime] = _now
    ) -> None:
        self.uow = uow
        self.clock = clock

    async def register(self, email: str, name: str) -> User:
        """The new account; InvalidUser or EmailTaken otherwise.

        The account and its `user.created` event commit together, so no account is
        ever created without its event, nor an event sent for an account that is not.
        """
        user = domain.register(email, name, self.clock())
        async with self.uow.transaction() as tx:
            if not await tx.repo.add(user):
                raise EmailTaken(user.email)
            await tx.emit(make_event(domain.USER_CREATED, domain.created_event_data(user)))
        return user

    async def get(self, user_id: uuid.UUID) -> User:
        async with self.uow.statement() as tx:
            user = await tx.repo.get(user_id)
        if user is None:
            raise UserNotFound(user_id)
        return user
