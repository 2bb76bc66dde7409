"""users' service layer without a database: an account and its `user.created` event commit
together, a taken email is refused with nothing emitted."""

from __future__ import annotations

import asyncio
import uuid
from datetime import UTC, datetime

import pytest
from fakes import FakeUnitOfWork

from system_under_test.users.domain import EmailTaken, InvalidUser, UserNotFound
from system_under_test.users.service import UserService

from .fakes import FakeUserRepository

pytestmark = pytest.mark.unit
NOW = datetime(2030, 1, 1, tzinfo=UTC)


@pytest.fixture
def uow() -> FakeUnitOfWork[FakeUserRepository]:
    return FakeUnitOfWork(FakeUserRepository())


@pytest.fixture
def service(uow) -> UserService:
    return UserService(uow, clock=lambda: NOW)


async def test_registering_stores_the_account_and_announces_it_once(service, uow):
    user = await service.register(" Ann@Example.com ", "Ann  Smith")
    assert await service.get(user.id) == user
    (event,) = uow.published
    assert event["type"] == "user.created"
    assert event["data"] == {
        "user_id": str(user.id),
        "email": "ann@example.com",
        "name": "Ann Smith",
    }


async def test_a_taken_email_is_refused_whatever_its_case_and_nothing_is_announced(service, uow):
    await service.register("ann@example.com", "Ann")
    with pytest.raises(EmailTaken):
        await service.register("ANN@example.com", "Another Ann")
    assert len(uow.repo.users) == 1
    assert len(uow.published) == 1


async def test_invalid_input_is_refused_before_any_unit_of_work(service, uow):
    with pytest.raises(InvalidUser):
        await service.register("not an address", "Ann")
    assert uow.commits == 0 and uow.repo.users == {}


async def test_an_unknown_id_is_not_found(service):
    with pytest.raises(UserNotFound):
        await service.get(uuid.uuid4())


async def test_of_dozens_registering_one_email_at_once_one_account_is_made(service, uow):
    spellings = ["bo@example.com", "BO@example.com", "Bo@Example.COM"]
    attempts = await asyncio.gather(
        *(service.register(spellings[i % 3], f"Bo {i}") for i in range(30)),
        return_exceptions=True,
    )
    assert sum(1 for a in attempts if isinstance(a, EmailTaken)) == 29
    assert len(uow.repo.users) == len(uow.published) == 1
