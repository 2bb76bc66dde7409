"""Request guards of the public API: bearer authentication and the per-client rate limit."""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Annotated

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from system_under_test.common.app import service_layer
from system_under_test.common.problems import ProblemError

from . import tokens
from .state import GatewayState

TOKEN_URL = "/api/auth/token"
# auto_error=False: we answer 401 ourselves, as a problem body.
bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description=f"Obtain a token at {TOKEN_URL} with the demo account demo / demo.",
)

State = Annotated[GatewayState, Depends(service_layer)]
BearerToken = Annotated[str | None, Depends(bearer_scheme)]


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str | None
    error: str | None


ANONYMOUS = Caller(None, None)

# The guards are `async def` although they never await: FastAPI runs a plain `def` dependency
# in its thread pool, a thread hop per guard on every request.


async def caller(token: BearerToken, state: State) -> Caller:
    # FastAPI caches this per request, so the limiter and the guard decode only once.
    if token is None:
        return Caller(None, "a bearer token is required")
    try:
        return Caller(tokens.subject_of(token, state.settings.signing_key), None)
    except tokens.InvalidToken as exc:
        return Caller(None, str(exc))


Who = Annotated[Caller, Depends(caller)]


async def require_token(who: Who) -> str:
    if who.subject is None:
        raise ProblemError(401, detail=who.error, headers={"WWW-Authenticate": "Bearer"})
    return who.subject


def check_rate(request: Request, who: Caller, state: GatewayState) -> None:
    """429 when the client's bucket is empty. Keyed by the verified subject when there is
    one, so clients behind one address do not starve each other; anything else (no token, a
    bad one, a public route) by the client's address."""
    host = request.client.host if request.client else "unknown"
    key = f"sub:{who.subject}" if who.subject else f"addr:{host}"
    wait = state.limiter.acquire(key)
    if wait > 0:
        raise ProblemError(
            429,
            detail=f"rate limit of {state.settings.rate_limit_rps:g} requests/s exceeded",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )


async def rate_limit(request: Request, who: Who, state: State) -> None:
    """The guarded routes' limit, keyed by the caller's token."""
    check_rate(request, who, state)


async def rate_limit_by_address(request: Request, state: State) -> None:
    """The public routes' limit: they read no token (depending on the bearer scheme would
    mark them as secured in the OpenAPI document), so every client is keyed by its address."""
    check_rate(request, ANONYMOUS, state)
