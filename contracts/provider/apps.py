"""The suite's services, each built with a private database and namespace and served."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from fastapi import FastAPI

from contracts.sandbox import Sandbox
from contracts.serving import Served, serve


def build(service: str, sandbox: Sandbox, **overrides: Any) -> FastAPI:
    """`build_app(<Service>Settings(...))` of a service, pointed at the sandbox."""
    settings = sandbox.settings(service) | overrides
    if service == "users":
        from system_under_test.users.app import build_app
        from system_under_test.users.settings import UsersSettings as Settings
    elif service == "facilities":
        from system_under_test.facilities.app import build_app
        from system_under_test.facilities.settings import FacilitiesSettings as Settings
    elif service == "payments":
        from system_under_test.payments.app import build_app
        from system_under_test.payments.settings import PaymentsSettings as Settings
    elif service == "bookings":
        from system_under_test.bookings.app import build_app
        from system_under_test.bookings.settings import BookingsSettings as Settings
    elif service == "notifications":
        from system_under_test.notifications.app import build_app
        from system_under_test.notifications.settings import NotificationsSettings as Settings
    elif service == "gateway":
        from system_under_test.gateway.app import build_app
        from system_under_test.gateway.settings import GatewaySettings as Settings

        settings.setdefault("jwt_secret", sandbox.signing_key)
    else:
        raise ValueError(f"unknown service {service!r}")
    return build_app(Settings(**settings))


@contextmanager
def served(service: str, sandbox: Sandbox, **overrides: Any) -> Iterator[tuple[Served, FastAPI]]:
    app = build(service, sandbox, **overrides)
    with serve(app) as running:
        yield running, app
