"""Each service as a fuzz target: its app in-process (ASGI) with its own database, and the
real services it calls served next to it."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
from schemathesis.python import asgi

from contracts.fuzzing.rules import REFERENCE_ENV
from contracts.processes import service_process
from contracts.provider.apps import build
from contracts.sandbox import Sandbox
from system_under_test.gateway import tokens

SERVICES = ("users", "facilities", "payments", "bookings", "notifications", "gateway")


@dataclass
class Target:
    service: str
    app: Any
    headers: dict[str, str] = field(default_factory=dict)
    # Environment for the generation rules (ids of a user and a facility that exist).
    environ: dict[str, str] = field(default_factory=dict)


def bearer(secret: str) -> dict[str, str]:
    token = tokens.issue(tokens.DEMO_USERNAME, secret, 3600)
    return {"Authorization": f"Bearer {token}"}


def references(users_url: str, facilities_url: str) -> dict[str, str]:
    """A user and a facility to book, made through their own services' APIs."""
    user = httpx.post(
        f"{users_url}/users",
        json={"email": f"fuzz-{uuid.uuid4().hex[:10]}@example.com", "name": "Fuzz Family"},
        timeout=10,
    )
    facility = httpx.post(
        f"{facilities_url}/facilities", json={"name": "Fuzz Chapel", "capacity": 50}, timeout=10
    )
    user.raise_for_status()
    facility.raise_for_status()
    return {
        REFERENCE_ENV["user_id"]: user.json()["id"],
        REFERENCE_ENV["facility_id"]: facility.json()["id"],
    }


@contextmanager
def fuzz_target(service: str, sandbox: Sandbox) -> Iterator[Target]:
    with ExitStack() as stack:
        urls: dict[str, str] = {}

        def running(name: str, **urls_of_downstreams: str) -> str:
            env = sandbox.service_env(
                name, **{f"SVC_{k.upper()}": v for k, v in urls_of_downstreams.items()}
            )
            url = stack.enter_context(service_process(name, env))
            urls[f"{name}_url"] = url
            return url

        if service in ("bookings", "gateway"):
            running("facilities")
            running("payments")
        if service == "gateway":
            running("users")
            running(
                "bookings", facilities_url=urls["facilities_url"], payments_url=urls["payments_url"]
            )
        app = build(service, sandbox, **urls)
        target = Target(service, app)
        if service == "gateway":
            target.headers = bearer(app.state.settings.jwt_secret)
            target.environ = references(urls["users_url"], urls["facilities_url"])
        try:
            yield target
        finally:
            # Schemathesis started the app's lifespan (database pool, broker) in its own loop.
            asgi.shutdown_lifespans()
