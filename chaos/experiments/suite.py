"""An experiment's handle on the suite: the suite client straight to each service's own port
(clients reach services directly; only the edges between services go through proxies), plus
what only experiments need: the bookings it placed, so that they can be waited for and audited,
saga calls timed from the bookings database, and p99."""

from __future__ import annotations

import statistics
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

from harness import service_metrics
from harness.suite_client import (
    GOOD_CARD,
    Answer,
    Booking,
    Slot,
    SlotAllocator,
    SuiteClient,
)

if TYPE_CHECKING:
    from harness.stack import Stack


@dataclass(frozen=True)
class SagaCall:
    booking_id: str
    started_at: datetime
    seconds: float
    outcome: str | None


def p99(samples: Iterable[float]) -> float:
    values = sorted(samples)
    if not values:
        return 0.0
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


def status_of(outcomes: dict[str, Booking], booking_id: str | None) -> str | None:
    """The status a wait last read for a booking (None: never read)."""
    booking = outcomes.get(booking_id) if booking_id else None
    return booking.status if booking else None


class Suite:
    """The direct client of one experiment, and every booking it placed."""

    def __init__(self, stack: Stack, *, request_timeout_s: float = 10.0, seed: int = 0) -> None:
        self.stack = stack
        # Slots spread by seed, shared by every client of the experiment.
        self.client = SuiteClient.for_stack(
            stack, public=False, timeout=request_timeout_s, slots=SlotAllocator(seed)
        )
        self._public: list[SuiteClient] = []
        self.bookings: list[str] = []
        # Bookings does not look users up: a fixed id per seed spares a user per experiment.
        self.user_id = str(uuid.UUID(int=seed + 1))

    def close(self) -> None:
        for client in [self.client, *self._public]:
            client.close()

    def __enter__(self) -> Suite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def public(self, *, timeout: float) -> SuiteClient:
        """A client through the gateway, logged in as demo, taking slots from the same
        allocator (so its bookings never collide with the direct ones by accident)."""
        client = SuiteClient.for_stack(
            self.stack, public=True, timeout=timeout, slots=self.client.slots
        )
        self._public.append(client)
        client.login()
        return client

    def placed(self, booking_id: str | None) -> None:
        if booking_id and booking_id not in self.bookings:
            self.bookings.append(booking_id)

    # -- the booking flow ------------------------------------------------------------------------

    def facility(self) -> str:
        return self.client.create_facility("Chapel", 40).id

    def slot(self) -> Slot:
        return self.client.slots.take()

    def book(
        self,
        facility_id: str,
        *,
        card: str = GOOD_CARD,
        slot: Slot | None = None,
        key: str | None = None,
        timeout_s: float | None = None,
    ) -> Answer[Booking]:
        answer = self.client.try_book(
            self.user_id, facility_id, slot, payment_method=card, key=key, timeout=timeout_s
        )
        self.placed(answer.booking_id)
        return answer

    def wait_settled(
        self, booking_ids: Iterable[str] | None = None, deadline_s: float = 20.0
    ) -> dict[str, Booking]:
        """Each booking (default: every one placed) once settled, or as last read."""
        ids = list(self.bookings if booking_ids is None else booking_ids)
        return self.client.wait_settled(ids, deadline_s)

    # -- what a service exposes -------------------------------------------------------------------

    def metric(self, service: str, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when unreadable)."""
        return service_metrics.metric(self.stack.url(service), name, **labels)

    def breaker_state(self, service: str, downstream: str) -> str:
        return service_metrics.breaker_state(self.stack.url(service), downstream)

    def saga_calls(self, booking_ids: Iterable[str], step: str) -> list[SagaCall]:
        """Each finished call of `step` for these bookings, timed from the saga log (read
        straight from the bookings database, as the audit does)."""
        query = text(
            "SELECT booking_id, seq, status, detail, at FROM saga_log "
            "WHERE step = :step AND action = 'do' AND booking_id = ANY(:ids) "
            "ORDER BY booking_id, seq"
        )
        ids = [uuid.UUID(i) for i in booking_ids]
        engine = create_engine(self.stack.database_url("bookings"), poolclass=NullPool)
        try:
            with engine.connect() as conn:
                rows = conn.execute(query, {"step": step, "ids": ids}).all()
        finally:
            engine.dispose()
        calls, started = [], {}
        for booking_id, _, status, detail, at in rows:
            if status == "started":
                started[booking_id] = at
            elif booking_id in started:
                begun = started.pop(booking_id)
                calls.append(SagaCall(str(booking_id), begun, (at - begun).total_seconds(), detail))
        return calls
