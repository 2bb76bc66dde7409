"""users as a provider: its provider states (set up in its own database through its own
repository) and its `user.created` event, produced by its own registration use case."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

from fastapi import FastAPI
from pact.types import Message
from sqlalchemy import delete

from contracts.provider.outage import add_database_outage
from contracts.provider.tap import EventTap
from contracts.provider.verify import ProviderStates
from contracts.serving import Served
from system_under_test.users import domain
from system_under_test.users.orm import users
from system_under_test.users.repository import SqlUserRepository
from system_under_test.users.service import UserService

EVENTS = (domain.USER_CREATED,)


def users_states(served: Served, app: FastAPI) -> ProviderStates:
    states = ProviderStates()

    async def remove(condition: Any) -> None:
        async with app.state.db.transaction() as conn:
            await conn.execute(delete(users).where(condition))

    async def add(user: domain.User) -> None:
        async with app.state.db.transaction() as conn:
            if not await SqlUserRepository(conn).add(user):
                raise RuntimeError(f"state setup: email {user.email} is already taken")

    def by_email(p: dict[str, Any]) -> None:
        served.run(remove(users.c.email == domain.normalise_email(p["email"])))

    def by_id(p: dict[str, Any]) -> None:
        served.run(remove(users.c.id == uuid.UUID(p["id"])))

    def user_exists(p: dict[str, Any]) -> None:
        user = domain.register(p["email"], p["name"], datetime.now(UTC), uuid.UUID(p["id"]))
        served.run(add(user))

    # The request of "no user has the email" creates that user: teardown removes it again.
    states.state("no user has the email", teardown=by_email)(by_email)
    states.state("no user has the id")(by_id)
    states.state("a user exists", teardown=by_id)(user_exists)
    add_database_outage(states, served, app)
    return states


def user_created(served: Served, app: FastAPI, tap: EventTap) -> Message:
    """Register an account through the service's own use case; return what it published."""
    email = f"pact-{uuid.uuid4().hex[:12]}@example.com"
    service: UserService = app.state.service
    user = served.run(service.register(email, "Ann Smith"))
    message = tap.wait_for(lambda event: event.get("data", {}).get("user_id") == str(user.id))
    served.run(remove_user(app, user.id))
    return message


async def remove_user(app: FastAPI, user_id: uuid.UUID) -> None:
    async with app.state.db.transaction() as conn:
        await conn.execute(delete(users).where(users.c.id == user_id))
