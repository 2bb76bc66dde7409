"""users verified against the gateway's and notifications' pacts, served for real."""

from __future__ import annotations

import pytest

from contracts.broker import BrokerConfig
from contracts.provider.tap import EventTap
from contracts.provider.users import EVENTS, user_created, users_states
from contracts.provider.verify import verify_provider
from contracts.serving import serve
from system_under_test.users.app import build_app
from system_under_test.users.settings import UsersSettings

pytestmark = pytest.mark.contract


def test_users_honours_its_consumers(sandbox):
    settings = UsersSettings(**sandbox.settings("users"))
    app = build_app(settings)
    with serve(app) as served:
        served.run(app.state.broker.wait_ready(15), timeout=20)
        tap = EventTap(served, settings.amqp_url, f"{settings.namespace}.events", EVENTS)
        tap.start()
        try:
            result = verify_provider(
                "users",
                url=served.url,
                states=users_states(served, app),
                messages={"a user.created event": lambda: user_created(served, app, tap)},
                broker=BrokerConfig.from_env(),
            )
        finally:
            tap.stop()
    assert result.interactions >= 4
