"""Service configuration from `SVC_` environment variables (see docs/architecture.md)."""

from __future__ import annotations

import sys
from typing import NoReturn, TypeVar

from pydantic import Field, ValidationError, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

# The local server, with trust authentication as on the project's machines.
DEFAULT_POSTGRES = URL.create(
    "postgresql+psycopg", username="postgres", host="127.0.0.1", port=5432
)


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
    notifications_url: str = "http://127.0.0.1:8085"

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

    log_level: str = "INFO"

    # OpenTelemetry (common/tracing.py): spans as JSON lines under `traces_dir` when set, over
    # OTLP when OTEL_EXPORTER_OTLP_ENDPOINT is; the share of traces kept, decided per trace id.
    # Observability, not resilience: no experiment turns these off to show a mechanism matters.
    tracing: bool = Field(default=True, json_schema_extra={"observability": True})
    # A span per database statement: the most numerous spans of a trace.
    trace_database: bool = Field(default=True, json_schema_extra={"observability": True})
    traces_dir: str = ""
    trace_sample_ratio: float = Field(default=1.0, ge=0.0, le=1.0)

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

    @field_validator("database_url")
    @classmethod
    def _parsable(cls, value: str) -> str:
        if value:
            try:
                make_url(value)
            except ArgumentError:
                raise ValueError(
                    "not a database URL (postgresql+psycopg://user@host:port/database)"
                ) from None
        return value

    @model_validator(mode="after")
    def _default_database(self) -> ServiceSettings:
        if not self.database_url:
            default = DEFAULT_POSTGRES.set(database=f"faultline_{self.name}")
            self.database_url = default.render_as_string(hide_password=False)
        return self


S = TypeVar("S", bound=ServiceSettings)


class InvalidSettings(ValueError):
    """Settings that parse, yet a service cannot run on (one it needs is missing)."""


def settings_problem(error: ValidationError) -> str:
    """One line naming each bad `SVC_` variable and what is wrong with it."""
    parts = []
    for item in error.errors():
        message = str(item.get("msg", "invalid")).removeprefix("Value error, ")
        where = "_".join(str(p) for p in item.get("loc", ())).upper()
        parts.append(f"SVC_{where}: {message}" if where else message)
    return "; ".join(parts)


def load_settings(settings_class: type[S]) -> S:
    """The settings from the environment, or one readable line on stderr and exit status 2
    (a service must not start half configured, nor answer a typo with a traceback)."""
    try:
        return settings_class()
    except ValidationError as error:
        refuse_to_start(settings_class.model_fields["name"].default, settings_problem(error))


def refuse_to_start(service: str, problem: str) -> NoReturn:
    print(f"{service}: {problem}", file=sys.stderr)
    raise SystemExit(2)
