"""Per-client token buckets, in memory. Pure logic: the clock is passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from cachetools import LRUCache


@dataclass(slots=True)
class _Bucket:
    tokens: float
    updated: float


class RateLimiter:
    """`rate` tokens per second up to `burst`; each request takes one.

    Buckets live in an LRU so a flood of distinct clients cannot grow memory
    without bound; an evicted client simply starts again with a full bucket.
    """

    def __init__(
        self,
        rate: float,
        burst: float,
        clock: Callable[[], float],
        max_clients: int = 10_000,
    ) -> None:
        if rate <= 0 or burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self.rate = rate
        self.burst = burst
        self._clock = clock
        self._buckets: LRUCache[str, _Bucket] = LRUCache(maxsize=max_clients)

    def acquire(self, key: str) -> float:
        """0.0 when the request may pass, else the seconds until a token is available."""
        now = self._clock()
        bucket = self._buckets.get(key)
        if bucket is None:
            bucket = self._buckets[key] = _Bucket(tokens=self.burst, updated=now)
        bucket.tokens = min(self.burst, bucket.tokens + (now - bucket.updated) * self.rate)
        bucket.updated = now
        if bucket.tokens >= 1.0:
            bucket.tokens -= 1.0
            return 0.0
        return (1.0 - bucket.tokens) / self.rate
