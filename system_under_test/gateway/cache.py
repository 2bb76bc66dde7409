"""What the gateway remembers of its downstreams' answers. The last good facility list: fresh
for a short time, then served stale while the facilities service cannot answer. The ids that
are known to exist. Pure logic: the clock is passed in."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from cachetools import LRUCache


@dataclass(frozen=True, slots=True)
class Snapshot:
    items: list[Any]
    fetched_at: datetime
    taken: float  # clock reading when stored


class LastGoodCache:
    def __init__(self, ttl_s: float, clock: Callable[[], float]) -> None:
        self.ttl_s = ttl_s
        self._clock = clock
        self._snapshot: Snapshot | None = None
        self._expired = False

    def fresh(self) -> Snapshot | None:
        """The stored list while it is younger than the TTL and not invalidated."""
        snap = self._snapshot
        if snap is None or self._expired or self._clock() - snap.taken >= self.ttl_s:
            return None
        return snap

    def last_good(self) -> Snapshot | None:
        """The stored list whatever its age: the fallback when the source is down."""
        return self._snapshot

    def store(self, items: list[Any], fetched_at: datetime) -> Snapshot:
        self._snapshot = Snapshot(items=items, fetched_at=fetched_at, taken=self._clock())
        self._expired = False
        return self._snapshot

    def invalidate(self) -> None:
        """After a write: the next read goes to the source, yet the old list stays as
        the fallback, because a stale list beats none while the source is down."""
        self._expired = True


class KnownIds:
    """Ids a downstream has confirmed exist. Users and facilities are never deleted, so a
    booking for one seen before needs no lookup (bounded: an evicted id is looked up again)."""

    def __init__(self, max_ids: int = 100_000) -> None:
        self._seen: LRUCache[tuple[str, str], bool] = LRUCache(maxsize=max_ids)

    def __contains__(self, key: tuple[str, str]) -> bool:
        return self._seen.get(key, False)

    def add(self, key: tuple[str, str]) -> None:
        self._seen[key] = True
