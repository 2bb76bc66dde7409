"""Gateway settings: the shared `SVC_` settings plus the gateway's own knobs."""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from system_under_test.common.settings import InvalidSettings, ServiceSettings

# Public in this repository, so it signs tokens only in demo mode: anyone could forge one.
DEVELOPMENT_KEY = "faultline-development-key-not-for-production"
# An HS256 key shorter than the hash is easier to guess than the signature (RFC 7518, 3.2).
MIN_KEY_BYTES = 32


class MissingSigningKey(InvalidSettings):
    """No `SVC_JWT_SECRET` outside demo mode."""


MISSING_KEY_MESSAGE = (
    "SVC_JWT_SECRET is not set: give it a signing key (e.g. `python -c "
    '"import secrets; print(secrets.token_urlsafe(32))"`), or set SVC_DEMO=true to run the '
    "demo with the development key"
)


class GatewaySettings(ServiceSettings):
    name: str = "gateway"
    port: int = 8080
    # The key that signs and checks bearer tokens. Required unless `demo` is on.
    jwt_secret: SecretStr = SecretStr("")
    # Demo mode: without `jwt_secret` tokens are signed with the development key above.
    demo: bool = False
    # 0 means twice the sustained rate: room for a page's burst of parallel calls.
    rate_limit_burst: float = 0.0
    # Short, so a new facility shows up quickly; the last good list outlives it as fallback.
    facilities_cache_ttl_s: float = 2.0
    token_ttl_s: int = 3600
    ready_timeout_s: float = 1.0
    # Half the services' bound: what the gateway admits, bookings always has room for, so
    # bookings never sheds (and the gateway's breaker never counts) the gateway's traffic.
    # See docs/architecture.md for how the number was chosen.
    max_in_flight: int = 32

    @field_validator("jwt_secret")
    @classmethod
    def _long_enough(cls, key: SecretStr) -> SecretStr:
        if key.get_secret_value() and len(key.get_secret_value().encode()) < MIN_KEY_BYTES:
            raise ValueError(f"must be at least {MIN_KEY_BYTES} bytes long")
        return key

    @property
    def signing_key(self) -> str:
        """The given key, or the development key in demo mode; without either a gateway
        cannot run (`build_app` refuses), though these settings can still be read."""
        key = self.jwt_secret.get_secret_value()
        if key:
            return key
        if self.demo:
            return DEVELOPMENT_KEY
        raise MissingSigningKey(MISSING_KEY_MESSAGE)
