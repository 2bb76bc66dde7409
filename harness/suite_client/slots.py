"""Booking slots that never collide by accident.

The far future (from 2100 on) is cut into regions of `REGION_DAYS` days; a seed picks one, so
runs with different seeds (taken modulo `REGIONS`) never share a slot, and a run without a seed
draws a region at random. Inside a region the slots are one `STEP` apart; several allocators on
one seed (one per load-generator process) share the region by taking every `partitions`-th slot
from their own `partition` on. A conflict then only happens where a caller books a slot it
already used, on purpose.
"""

from __future__ import annotations

import secrets
import threading
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

EPOCH = datetime(2100, 1, 1, tzinfo=UTC)
STEP = timedelta(hours=1)
REGION_DAYS = 1000
# Regions end before the year 8999, the last the suite accepts.
REGIONS = 2500
SLOTS_PER_REGION = REGION_DAYS * (timedelta(days=1) // STEP)
DEFAULT_LENGTH = timedelta(minutes=30)


class SlotsExhausted(RuntimeError):
    """An allocator handed out every slot of its region (partition)."""


@dataclass(frozen=True, order=True)
class Slot:
    """A half-open time range `[starts_at, ends_at)` to book a facility for."""

    starts_at: datetime
    ends_at: datetime

    @classmethod
    def at(cls, starts_at: datetime, length: timedelta = DEFAULT_LENGTH) -> Slot:
        return cls(starts_at, starts_at + length)

    @property
    def day(self) -> date:
        """The UTC day it starts on (what availability is asked by)."""
        return self.starts_at.astimezone(UTC).date()

    def overlaps(self, other: Slot) -> bool:
        return self.starts_at < other.ends_at and other.starts_at < self.ends_at

    def __str__(self) -> str:
        start = self.starts_at.astimezone(UTC)
        return f"{start:%Y-%m-%d %H:%M}-{self.ends_at.astimezone(UTC):%H:%M} UTC"


class SlotAllocator:
    """Distinct, non-overlapping slots; safe to share between threads."""

    def __init__(
        self,
        seed: int | None = None,
        *,
        partition: int = 0,
        partitions: int = 1,
        length: timedelta = DEFAULT_LENGTH,
    ) -> None:
        if partitions < 1 or not 0 <= partition < partitions:
            raise ValueError(f"partition {partition} of {partitions}: want 0 <= partition < n")
        if not timedelta(0) < length <= STEP:
            raise ValueError(f"a slot lasts more than nothing and at most {STEP}")
        self.seed = secrets.randbelow(REGIONS) if seed is None else seed
        self.region = self.seed % REGIONS
        self.partition = partition
        self.partitions = partitions
        self.length = length
        self.first = EPOCH + timedelta(days=self.region * REGION_DAYS)
        self._taken = 0
        self._lock = threading.Lock()

    @property
    def capacity(self) -> int:
        """How many slots this allocator can hand out in all."""
        return (SLOTS_PER_REGION - self.partition + self.partitions - 1) // self.partitions

    def take(self) -> Slot:
        with self._lock:
            index = self._taken * self.partitions + self.partition
            if index >= SLOTS_PER_REGION:
                raise SlotsExhausted(
                    f"all {self.capacity} slots of seed {self.seed}, partition "
                    f"{self.partition}/{self.partitions} are taken"
                )
            self._taken += 1
        return Slot.at(self.first + index * STEP, self.length)

    def take_many(self, count: int) -> list[Slot]:
        return [self.take() for _ in range(count)]

    def __repr__(self) -> str:
        return (
            f"SlotAllocator(seed={self.seed}, partition={self.partition}, "
            f"partitions={self.partitions}, taken={self._taken})"
        )
