"""OpenAPI links: which operations a response's identifiers lead to.

They tell a client (and a stateful fuzzer) that the booking id a `PUT /reservations/{id}`
just used is the one `GET /reservations/{id}` reads, instead of leaving it to guess.
"""

from __future__ import annotations

from typing import Any


def link(
    method: str,
    path: str,
    description: str,
    *,
    body: dict[str, str] | None = None,
    **parameters: str,
) -> dict[str, Any]:
    """A link to the operation `method path`, its parameters (and fields of its body) given as
    runtime expressions (`$response.body#/id`, `$request.path.booking_id`)."""
    pointer = path.replace("~", "~0").replace("/", "~1")
    found: dict[str, Any] = {
        "operationRef": f"#/paths/{pointer}/{method.lower()}",
        "description": description,
    }
    if parameters:
        found["parameters"] = parameters
    if body:
        found["requestBody"] = body
    return found


def links(**named: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """`responses={201: {"description": ..., **links(GetUser=link(...))}}`."""
    return {"links": named}
