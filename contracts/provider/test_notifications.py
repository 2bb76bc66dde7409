"""notifications verified against the gateway's pact (its HTTP API), served for real."""

from __future__ import annotations

import pytest

from contracts.broker import BrokerConfig
from contracts.provider.apps import served
from contracts.provider.notifications import notifications_states
from contracts.provider.verify import verify_provider

pytestmark = pytest.mark.contract


def test_notifications_honours_its_consumers(sandbox):
    with served("notifications", sandbox) as (running, app):
        result = verify_provider(
            "notifications",
            url=running.url,
            states=notifications_states(running, app),
            broker=BrokerConfig.from_env(),
        )
    assert result.interactions >= 4
