"""Request guards of the public API: bearer authentication and the per-client rate limit."""

from __future__ import annotations

import math
from dataclasses import dataclass

from fastapi import Depends, Request
from fastapi.security import OAuth2PasswordBearer

from system_under_test.common.problems import ProblemError

from . import tokens
from .state import GatewayState, gateway_state

TOKEN_URL = "/api/auth/token"
# auto_error=False: we answer 401 ourselves, as a problem body.
bearer_scheme = OAuth2PasswordBearer(
    tokenUrl=TOKEN_URL,
    auto_error=False,
    description=f"Obtain a token at {TOKEN_URL} with the demo account demo / demo.",
)


@dataclass(frozen=True, slots=True)
class Caller:
    subject: str | None
    error: str | None


# The guards are `async def` although they never await: FastAPI runs a plain `def` dependency
# in its thread pool, a thread hop per guard on every request.


async def caller(
    token: str | None = Depends(bearer_scheme),
    state: GatewayState = Depends(gateway_state),
) -> Caller:
    # FastAPI caches this per request, so the limiter and the guard decode only once.
    if token is None:
        return Caller(None, "a bearer token is required")
    try:
        return Caller(tokens.subject_of(token, state.settings.jwt_secret), None)
    except tokens.InvalidToken as exc:
        return Caller(None, str(exc))


async def require_token(who: Caller = Depends(caller)) -> str:
    if who.subject is None:
        raise ProblemError(401, detail=who.error, headers={"WWW-Authenticate": "Bearer"})
    return who.subject


async def rate_limit(
    request: Request,
    who: Caller = Depends(caller),
    state: GatewayState = Depends(gateway_state),
) -> None:
    # Keyed by the verified subject when there is one, so clients behind one address
    # do not starve each other; an unauthenticated flood is keyed by its address.
    host = request.client.host if request.client else "unknown"
    key = f"sub:{who.subject}" if who.subject else f"addr:{host}"
    wait = state.limiter.acquire(key)
    if wait > 0:
        raise ProblemError(
            429,
            detail=f"rate limit of {state.settings.rate_limit_rps:g} requests/s exceeded",
            headers={"Retry-After": str(max(1, math.ceil(wait)))},
        )
