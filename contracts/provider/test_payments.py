"""payments verified against the gateway's and bookings' pacts, served for real."""

from __future__ import annotations

import pytest

from contracts.broker import BrokerConfig
from contracts.provider.apps import served
from contracts.provider.payments import payments_states
from contracts.provider.verify import verify_provider

pytestmark = pytest.mark.contract


def test_payments_honours_its_consumers(sandbox):
    with served("payments", sandbox) as (running, app):
        result = verify_provider(
            "payments",
            url=running.url,
            states=payments_states(running, app),
            broker=BrokerConfig.from_env(),
        )
    assert result.interactions >= 8
