"""What the gateway keeps between requests (it has no database): downstream clients,
rate-limit buckets, the last good facility list and the ids known to exist."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from system_under_test.common.resilience import Downstream

from .cache import KnownIds, LastGoodCache
from .ratelimit import RateLimiter
from .settings import GatewaySettings


@dataclass
class GatewayState:
    settings: GatewaySettings
    downstreams: Mapping[str, Downstream]
    limiter: RateLimiter = field(init=False)
    facilities_cache: LastGoodCache = field(init=False)
    known: KnownIds = field(default_factory=KnownIds)

    def __post_init__(self) -> None:
        s = self.settings
        burst = s.rate_limit_burst or max(1.0, 2 * s.rate_limit_rps)
        self.limiter = RateLimiter(rate=s.rate_limit_rps, burst=burst, clock=time.monotonic)
        self.facilities_cache = LastGoodCache(s.facilities_cache_ttl_s, clock=time.monotonic)
