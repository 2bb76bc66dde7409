"""facilities verified against the gateway's and bookings' pacts, served for real."""

from __future__ import annotations

import pytest

from contracts.broker import BrokerConfig
from contracts.provider.apps import served
from contracts.provider.facilities import facilities_states
from contracts.provider.verify import verify_provider

pytestmark = pytest.mark.contract


def test_facilities_honours_its_consumers(sandbox):
    with served("facilities", sandbox) as (running, app):
        result = verify_provider(
            "facilities",
            url=running.url,
            states=facilities_states(running, app),
            broker=BrokerConfig.from_env(),
        )
    assert result.interactions >= 10
