"""Service configuration from `SVC_` environment variables (see docs/architecture.md)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_POSTGRES = "postgresql+psycopg://postgres@127.0.0.1:5432"


class ServiceSettings(BaseSettings):
    """Settings shared by every service; subclass to change `name`/`port` or add fields."""

    model_config = SettingsConfigDict(env_prefix="SVC_", extra="ignore")

    name: str = "service"
    port: int = 8080
    # Empty means `faultline_<name>` on the local server (filled in after validation).
    database_url: str = ""
    amqp_url: str = "amqp://guest:guest@127.0.0.1:5672/"
    namespace: str = "faultline"

    users_url: str = "http://127.0.0.1:8081"
    facilities_url: str = "http://127.0.0.1:8082"
    payments_url: str = "http://127.0.0.1:8083"
    bookings_url: str = "http://127.0.0.1:8084"

    http_timeout_s: float = 2.0
    retry_attempts: int = 3
    retry_backoff_s: float = 0.05
    breaker_threshold: int = 5
    breaker_recovery_s: float = 5.0

    # Resilience switches: the chaos layer turns one off to show that it matters.
    breakers: bool = True
    retries: bool = True
    timeouts: bool = True
    outbox: bool = True
    consumer_dedupe: bool = True
    # False: a failed event waits out its backoff in the consumer's memory while it holds the
    # delivery (the design the broker's delay queues replace).
    consumer_delay_queues: bool = True
    compensation: bool = True

    jwt_secret: str = "faultline-development-key-not-for-production"
    log_level: str = "INFO"

    saga_budget_s: float = 5.0
    rate_limit_rps: float = 1000.0
    max_body_bytes: int = 65536

    # The connection pool: connections kept (opened as needed), extra ones beyond them, and
    # how long a request waits for one before it is answered 503 + Retry-After. No connection
    # is held across a call to another service, so a few serve every request in flight. An
    # extra connection is closed when it is returned: under bursts that meant a new
    # connection (a PostgreSQL backend) every few statements, so there are none by default.
    db_pool_size: int = 10
    db_pool_overflow: int = 0
    db_pool_timeout_s: float = 2.0
    # Requests a service works on at once; one more is answered 503 + Retry-After at once
    # (/health, /ready and /metrics are never refused). See docs/architecture.md.
    max_in_flight: int = 64

    db_startup_timeout_s: float = 30.0
    # A consumer retries an event that failed for a transient reason (its database or a
    # dependency away) after a backoff that starts at `consumer_retry_backoff_s` and doubles up
    # to `consumer_retry_cap_s`, waiting in a broker delay queue, for `consumer_retry_budget_s`
    # after its first failure; only then is it dead-lettered. 0 attempts: no cap on attempts.
    consumer_max_attempts: int = Field(default=0, ge=0)
    consumer_retry_backoff_s: float = Field(default=0.2, gt=0)
    consumer_retry_cap_s: float = Field(default=30.0, gt=0)
    consumer_retry_budget_s: float = Field(default=600.0, gt=0)
    outbox_poll_s: float = 0.1

    @model_validator(mode="after")
    def _default_database(self) -> ServiceSettings:
        if not self.database_url:
            self.database_url = f"{DEFAULT_POSTGRES}/faultline_{self.name}"
        return self
