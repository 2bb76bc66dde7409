"""Bearer tokens: HS256 JWTs with an expiry, and the demo account that may obtain one."""

from __future__ import annotations

import hmac
from datetime import UTC, datetime, timedelta

import jwt

ALGORITHM = "HS256"
ISSUER = "faultline-gateway"

# The one documented account of the reference suite (README, OpenAPI description).
DEMO_USERNAME = "demo"
DEMO_PASSWORD = "demo"


class InvalidToken(Exception):
    """Missing, malformed, badly signed or expired token; the message says which."""


def check_credentials(username: str, password: str) -> bool:
    # Constant-time comparison: no timing hint about which part was wrong.
    user_ok = hmac.compare_digest(username.encode(), DEMO_USERNAME.encode())
    password_ok = hmac.compare_digest(password.encode(), DEMO_PASSWORD.encode())
    return user_ok and password_ok


def issue(subject: str, secret: str, ttl_s: int, now: datetime | None = None) -> str:
    now = now or datetime.now(UTC)
    claims = {"sub": subject, "iss": ISSUER, "iat": now, "exp": now + timedelta(seconds=ttl_s)}
    return jwt.encode(claims, secret, algorithm=ALGORITHM)


def subject_of(token: str, secret: str) -> str:
    """The verified subject, or InvalidToken."""
    try:
        claims = jwt.decode(
            token,
            secret,
            algorithms=[ALGORITHM],
            issuer=ISSUER,
            options={"require": ["exp", "sub", "iss"]},
        )
    except jwt.ExpiredSignatureError:
        raise InvalidToken("token expired") from None
    except jwt.InvalidTokenError as exc:
        raise InvalidToken(f"invalid token: {exc}") from None
    return str(claims["sub"])
