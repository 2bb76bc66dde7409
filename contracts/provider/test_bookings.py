"""bookings verified against the gateway's and notifications' pacts, served for real with
real facilities and payments behind it."""

from __future__ import annotations

import pytest

from contracts.broker import BrokerConfig
from contracts.provider.apps import served
from contracts.provider.bookings import EVENTS, BookingsProvider, Downstreams
from contracts.provider.facilities import facilities_states
from contracts.provider.payments import payments_states
from contracts.provider.tap import EventTap
from contracts.provider.verify import verify_provider

pytestmark = pytest.mark.contract


def test_bookings_honours_its_consumers(sandbox):
    with (
        served("facilities", sandbox) as (facilities, facilities_app),
        served("payments", sandbox) as (payments, payments_app),
        served(
            "bookings",
            sandbox,
            facilities_url=facilities.url,
            payments_url=payments.url,
            # A loaded CI machine must not turn a confirmed booking into a pending one (202).
            saga_budget_s=30.0,
        ) as (bookings, app),
    ):
        provider = BookingsProvider(
            bookings,
            app,
            Downstreams(
                facilities=facilities_states(facilities, facilities_app),
                payments=payments_states(payments, payments_app),
            ),
        )
        bookings.run(app.state.broker.wait_ready(15), timeout=20)
        tap = EventTap(
            bookings, sandbox_amqp(app), f"{app.state.settings.namespace}.events", EVENTS
        )
        tap.start()
        try:
            result = verify_provider(
                "bookings",
                url=bookings.url,
                states=provider.states(),
                messages=provider.messages(tap),
                broker=BrokerConfig.from_env(),
            )
        finally:
            tap.stop()
    assert result.interactions >= 9


def sandbox_amqp(app) -> str:
    return app.state.settings.amqp_url
