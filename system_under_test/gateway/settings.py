"""Gateway settings: the shared `SVC_` settings plus the gateway's own knobs."""

from __future__ import annotations

from system_under_test.common.settings import ServiceSettings


class GatewaySettings(ServiceSettings):
    name: str = "gateway"
    port: int = 8080
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
