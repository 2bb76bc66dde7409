"""Bookings settings: the kernel's `SVC_` variables plus the saga's own timing."""

from __future__ import annotations

from system_under_test.common.settings import ServiceSettings


class BookingsSettings(ServiceSettings):
    name: str = "bookings"
    port: int = 8084
    # Wait before repeating a failed saga call (doubling per attempt, capped); the HTTP
    # client's own quick retries have already been spent by then.
    saga_retry_backoff_s: float = 0.2
    saga_retry_cap_s: float = 5.0
    # The recovery loop: how often it looks, and how long a saga must have been quiet before
    # it takes over (so it does not contend with the request that is driving it).
    recovery_interval_s: float = 1.0
    recovery_idle_s: float = 2.0
    recovery_concurrency: int = 4
    # How long a saga's driver holds its lease without renewing it. It renews it with each
    # step and every third of this while a call or a backoff lasts, so only a process that
    # died (or cannot reach its database) loses it; another driver then waits this long.
    saga_lease_s: float = 5.0
