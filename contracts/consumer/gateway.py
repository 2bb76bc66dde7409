"""The gateway as a consumer: its real app, in-process, with its downstream URLs pointed at
Pact mock providers. Calling its public routes runs the same relay code (and the same
`Downstream` with timeout, retries and breaker) as in production."""

from __future__ import annotations

import secrets
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx

from contracts.consumer.mock import UNUSED_URL
from system_under_test.gateway import tokens
from system_under_test.gateway.app import build_app
from system_under_test.gateway.settings import GatewaySettings


@asynccontextmanager
async def gateway_client(
    *,
    users: str = UNUSED_URL,
    facilities: str = UNUSED_URL,
    bookings: str = UNUSED_URL,
    payments: str = UNUSED_URL,
    notifications: str = UNUSED_URL,
) -> AsyncIterator[httpx.AsyncClient]:
    settings = GatewaySettings(
        users_url=users,
        facilities_url=facilities,
        bookings_url=bookings,
        payments_url=payments,
        notifications_url=notifications,
        jwt_secret=secrets.token_urlsafe(32),
        # A consumer test shows what the gateway does with one answer, so no retry repeats it.
        retry_attempts=1,
        log_level="WARNING",
    )
    app = build_app(settings)
    token = tokens.issue(tokens.DEMO_USERNAME, settings.signing_key, 300)
    async with (
        app.router.lifespan_context(app),
        httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app),
            base_url="http://gateway",
            headers={"Authorization": f"Bearer {token}"},
        ) as client,
    ):
        yield client
