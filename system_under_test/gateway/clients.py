"""The gateway's downstreams: one `Downstream` (timeout, retries, breaker) per service."""

from __future__ import annotations

from typing import Any

import httpx

from system_under_test.common.problems import ProblemError
from system_under_test.common.settings import ServiceSettings

DOWNSTREAMS = ("users", "facilities", "bookings", "payments", "notifications")


def downstream_urls(settings: ServiceSettings) -> dict[str, str]:
    """Base URL of each downstream, from `SVC_<NAME>_URL` (through proxies in the stack)."""
    return {name: getattr(settings, f"{name}_url") for name in DOWNSTREAMS}


def body_of(response: httpx.Response) -> Any:
    """The JSON body of a 2xx answer; a 4xx becomes the same problem for our caller."""
    if response.status_code >= 400:
        raise as_problem(response)
    return response.json()


def as_problem(response: httpx.Response) -> ProblemError:
    """A downstream 4xx passed through unchanged: same status, title, detail and type."""
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        return ProblemError(response.status_code, detail=response.text[:500] or None)
    detail = body.get("detail")
    return ProblemError(
        response.status_code,
        body.get("title") if isinstance(body.get("title"), str) else None,
        detail if isinstance(detail, str) else None,
        type=body.get("type") if isinstance(body.get("type"), str) else "about:blank",
    )


async def healthy(base_url: str, timeout_s: float) -> bool:
    """Whether a downstream's /health answers. Deliberately outside its breaker and
    retries: a readiness probe must neither trip nor wait for them."""
    try:
        async with httpx.AsyncClient(base_url=base_url, timeout=timeout_s) as client:
            return (await client.get("/health")).status_code == 200
    except httpx.HTTPError:
        return False
