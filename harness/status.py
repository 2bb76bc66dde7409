"""What a running stack looks like right now: readiness, proxies, circuit breakers."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import httpx

from harness.service_metrics import scrape
from harness.stack import Stack
from harness.toxiproxy import ToxiproxyClient, ToxiproxyError


@dataclass
class ServiceStatus:
    name: str
    url: str
    openapi_url: str
    ready: bool
    breakers: dict[str, str] = field(default_factory=dict)


@dataclass
class StackStatus:
    run_id: str
    toxiproxy_url: str
    toxiproxy_embedded: bool
    services: list[ServiceStatus]
    proxies: list[dict[str, Any]]
    proxy_error: str | None = None

    def to_json(self) -> dict[str, Any]:
        """The documented `faultline status --json` shape."""
        return {
            "toxiproxy_url": self.toxiproxy_url,
            "services": [
                {"name": s.name, "url": s.url, "openapi_url": s.openapi_url, "ready": s.ready}
                for s in self.services
            ],
            "proxies": self.proxies,
        }


def collect(stack: Stack) -> StackStatus:
    services: list[ServiceStatus] = []
    with httpx.Client(timeout=1.0) as client:
        for name in stack.services:
            url = stack.url(name)
            try:
                ready = client.get(f"{url}/ready").status_code == 200
            except httpx.HTTPError:
                ready = False
            breakers = scrape(url, http=client, timeout=1.0).breaker_states()
            services.append(ServiceStatus(name, url, stack.openapi_url(name), ready, breakers))
    proxies: list[dict[str, Any]] = []
    error = None
    try:
        with ToxiproxyClient(stack.toxiproxy_url, timeout=5.0) as toxiproxy:
            listed = toxiproxy.proxies()
        proxies = [listed[name] for name in sorted(listed)]
    except ToxiproxyError as exc:
        error = f"Toxiproxy at {stack.toxiproxy_url} did not answer ({exc})"
    return StackStatus(
        run_id=stack.run_id,
        toxiproxy_url=stack.toxiproxy_url,
        toxiproxy_embedded=stack.toxiproxy_embedded,
        services=services,
        proxies=proxies,
        proxy_error=error,
    )
