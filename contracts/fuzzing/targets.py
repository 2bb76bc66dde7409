"""Each service as a fuzz target: its app in-process (ASGI) with its own database, and the
real services it calls served next to it."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass
from typing import Any

from schemathesis.python import asgi

from contracts.processes import service_process
from contracts.provider.apps import build
from contracts.sandbox import Sandbox

SERVICES = ("users", "facilities", "payments", "bookings", "notifications", "gateway")


@dataclass
class Target:
    service: str
    app: Any


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
            running("notifications")
            running(
                "bookings", facilities_url=urls["facilities_url"], payments_url=urls["payments_url"]
            )
        # The gateway's token comes from the configuration (its demo account), as for `st`.
        target = Target(service, build(service, sandbox, **urls))
        try:
            yield target
        finally:
            # Schemathesis started the app's lifespan (database pool, broker) in its own loop.
            asgi.shutdown_lifespans()
