"""The booking flow as an experiment drives it: straight to each service's own port (clients
reach services directly; only the edges between services go through proxies)."""

from __future__ import annotations

import itertools
import statistics
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import create_engine, text
from sqlalchemy.pool import NullPool

if TYPE_CHECKING:
    from harness.stack import Stack

DECLINED_CARD = "pm_card_chargeDeclined"
GOOD_CARD = "pm_card_visa"


@dataclass(frozen=True)
class SagaCall:
    booking_id: str
    started_at: datetime
    seconds: float
    outcome: str | None


@dataclass(frozen=True)
class Answer:
    """One request as the caller saw it: status (None when no answer), body, seconds taken."""

    status: int | None
    body: Any
    seconds: float
    error: str | None = None

    @property
    def booking_id(self) -> str | None:
        return self.body.get("id") if isinstance(self.body, dict) else None

    @property
    def clean(self) -> bool:
        """A deliberate answer: success, or a 4xx/503 problem; never a 500 or no answer."""
        return self.status is not None and (self.status < 500 or self.status == 503)

    def describe(self) -> str:
        if self.status is None:
            return f"no answer after {self.seconds * 1000:.0f} ms ({self.error})"
        return f"{self.status} after {self.seconds * 1000:.0f} ms"


def p99(samples: Iterable[float]) -> float:
    values = sorted(samples)
    if not values:
        return 0.0
    if len(values) < 2:
        return values[0]
    return statistics.quantiles(values, n=100, method="inclusive")[98]


class Suite:
    """An experiment's handle on the suite; remembers every booking it placed."""

    def __init__(self, stack: Stack, *, request_timeout_s: float = 10.0, seed: int = 0) -> None:
        self.stack = stack
        self.http = httpx.Client(timeout=request_timeout_s)
        self.bookings: list[str] = []
        self.user_id = str(uuid.UUID(int=seed + 1))
        # Far in the future and spread by seed, so runs never compete for a slot by accident.
        self._base = datetime(2040, 1, 1, tzinfo=UTC) + timedelta(days=(seed * 7919) % 20000)
        self._slots = itertools.count()

    def close(self) -> None:
        self.http.close()

    def __enter__(self) -> Suite:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def url(self, service: str) -> str:
        return self.stack.url(service)

    def call(self, method: str, service: str, path: str, **kwargs: Any) -> Answer:
        t0 = time.monotonic()
        try:
            resp = self.http.request(method, f"{self.url(service)}{path}", **kwargs)
        except httpx.HTTPError as exc:
            return Answer(None, None, time.monotonic() - t0, f"{type(exc).__name__}: {exc}")
        try:
            body: Any = resp.json()
        except ValueError:
            body = resp.text
        return Answer(resp.status_code, body, time.monotonic() - t0)

    # -- the booking flow ------------------------------------------------------------------------

    def facility(self) -> str:
        answer = self.call(
            "POST", "facilities", "/facilities", json={"name": "Chapel", "capacity": 40}
        )
        if answer.status != 201:
            raise RuntimeError(f"could not create a facility: {answer.describe()} {answer.body}")
        return str(answer.body["id"])

    def slot(self) -> tuple[str, str]:
        start = self._base + timedelta(hours=2 * next(self._slots))
        return start.isoformat(), (start + timedelta(hours=1)).isoformat()

    def book(
        self,
        facility_id: str,
        *,
        card: str = GOOD_CARD,
        slot: tuple[str, str] | None = None,
        key: str | None = None,
        timeout_s: float | None = None,
    ) -> Answer:
        starts_at, ends_at = slot or self.slot()
        body = {
            "user_id": self.user_id,
            "facility_id": facility_id,
            "starts_at": starts_at,
            "ends_at": ends_at,
            "amount_cents": 25000,
            "payment_method": card,
        }
        headers = {"Idempotency-Key": key or uuid.uuid4().hex}
        extra: dict[str, Any] = {} if timeout_s is None else {"timeout": timeout_s}
        answer = self.call("POST", "bookings", "/bookings", json=body, headers=headers, **extra)
        if answer.booking_id and answer.booking_id not in self.bookings:
            self.bookings.append(answer.booking_id)
        return answer

    def booking(self, booking_id: str) -> dict[str, Any] | None:
        answer = self.call("GET", "bookings", f"/bookings/{booking_id}")
        return answer.body if answer.status == 200 else None

    def all_bookings(self) -> list[dict[str, Any]]:
        answer = self.call("GET", "bookings", "/bookings", params={"limit": 10000})
        return answer.body if answer.status == 200 else []

    def wait_settled(
        self, booking_ids: Iterable[str] | None = None, deadline_s: float = 20.0
    ) -> dict[str, dict[str, Any]]:
        """Poll until each booking is settled (terminal, nothing left to do) or the deadline."""
        ids = list(self.bookings if booking_ids is None else booking_ids)
        seen: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + deadline_s
        while True:
            for booking_id in ids:
                if booking_id in seen and seen[booking_id].get("settled"):
                    continue
                body = self.booking(booking_id)
                if body is not None:
                    seen[booking_id] = body
            if all(seen.get(i, {}).get("settled") for i in ids) or time.monotonic() > deadline:
                return seen
            time.sleep(0.05)

    # -- what a service exposes -------------------------------------------------------------------

    def metrics(self, service: str) -> dict[tuple[str, frozenset[tuple[str, str]]], float]:
        answer = self.call("GET", service, "/metrics")
        if answer.status != 200 or not isinstance(answer.body, str):
            return {}
        values = {}
        for family in text_string_to_metric_families(answer.body):
            for sample in family.samples:
                values[(sample.name, frozenset(sample.labels.items()))] = sample.value
        return values

    def metric(self, service: str, name: str, **labels: str) -> float:
        """Sum of the samples of `name` whose labels include `labels` (0 when absent)."""
        wanted = set(labels.items())
        return sum(
            value
            for (sample, sample_labels), value in self.metrics(service).items()
            if sample == name and wanted <= sample_labels
        )

    def breaker_state(self, service: str, downstream: str) -> str:
        value = self.metric(service, "faultline_breaker_state", downstream=downstream)
        return {0: "closed", 1: "half-open", 2: "open"}.get(int(value), f"unknown({value})")

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

    def wait_for(self, predicate: Any, deadline_s: float, interval_s: float = 0.05) -> bool:
        """Poll `predicate()` until true or the deadline; True when it became true."""
        deadline = time.monotonic() + deadline_s
        while True:
            if predicate():
                return True
            if time.monotonic() > deadline:
                return False
            time.sleep(interval_s)
