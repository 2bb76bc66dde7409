"""notifications as a provider: messages sent the way they are in production, by handing
events to its own service (the use case its consumer runs for every delivery)."""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI

from contracts.provider.outage import add_database_outage
from contracts.provider.tables import truncate
from contracts.provider.verify import ProviderStates
from contracts.serving import Served
from system_under_test.common.events import make_event
from system_under_test.notifications import domain
from system_under_test.notifications.orm import metadata
from system_under_test.notifications.service import NotificationService

DEFAULT_SLOT = ("2030-05-01T10:00:00+00:00", "2030-05-01T12:00:00+00:00")


def notifications_states(served: Served, app: FastAPI) -> ProviderStates:
    states = ProviderStates(reset=lambda: truncate(served, app, metadata))
    service: NotificationService = app.state.service

    def deliver(event_type: str, data: dict[str, Any]) -> None:
        served.run(service.handle(make_event(event_type, data)))

    @states.state("a booking's confirmation was sent")
    def _(p: dict[str, Any]) -> None:
        starts_at, ends_at = DEFAULT_SLOT
        data = {"booking_id": p["booking_id"], "user_id": p["user_id"], "status": "confirmed"}
        deliver(domain.BOOKING_CONFIRMED, {**data, "starts_at": starts_at, "ends_at": ends_at})

    @states.state("a user was welcomed")
    def _(p: dict[str, Any]) -> None:
        data = {"user_id": p["user_id"], "email": p["email"], "name": p["name"]}
        deliver(domain.USER_CREATED, data)

    @states.state("no notification was sent for the booking")
    def _(p: dict[str, Any]) -> None:
        truncate(served, app, metadata)

    add_database_outage(states, served, app)
    return states
