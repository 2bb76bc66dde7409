"""Every experiment, and the resilience switch whose removal it must catch."""

from __future__ import annotations

import contextlib
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.experiments import (
    breaker,
    compensation,
    consumer,
    crash,
    database,
    degradation,
    messaging,
    retries,
    timeouts,
)
from chaos.experiments.result import Result
from chaos.experiments.runner import CHAOS_ENV

if TYPE_CHECKING:
    from harness.stack import Stack


SOAK_ENV = "FAULTLINE_SOAK"


def soaking() -> bool:
    """True under `make soak`: runs too long for `make test` (a minute-long fault, a second
    weakened run of a switch already caught) are included."""
    return os.environ.get(SOAK_ENV, "").lower() in ("1", "true", "yes")


@dataclass(frozen=True)
class Weakening:
    """Turn `switch` off in `services` (or set it to `value`, e.g. a budget too short) and the
    experiment must report `breaks` broken."""

    switch: str
    services: tuple[str, ...]
    breaks: str
    value: str = "false"
    restore: str = "true"
    soak_only: bool = False
    # Properties that must still hold with the mechanism off (what other parts guarantee).
    holds: tuple[str, ...] = ()

    @property
    def variable(self) -> str:
        return f"SVC_{self.switch.upper()}"

    @property
    def is_switch(self) -> bool:
        return self.value == "false"

    @contextlib.contextmanager
    def applied(self, stack: Stack) -> Iterator[None]:
        """The services restarted with the setting weakened, and restored afterwards."""
        try:
            for service in self.services:
                stack.restart(service, {self.variable: self.value})
            yield
        finally:
            for service in self.services:
                stack.restart(service, {self.variable: self.restore})


@dataclass(frozen=True)
class Experiment:
    name: str
    run: Callable[..., Result]
    weakening: Weakening | None = None
    soak_only: bool = False  # holds its fault for a minute: `make soak`, not `make test`

    def __call__(self, stack: Stack, *, seed: int = 0) -> Result:
        return self.run(stack, seed=seed)


EXPERIMENTS: tuple[Experiment, ...] = (
    Experiment(
        "circuit-breaker",
        breaker.circuit_breaker,
        Weakening("breakers", ("bookings",), "fails fast while open"),
    ),
    Experiment(
        "retries",
        retries.retries,
        Weakening("retries", ("bookings",), "no error reaches the caller"),
    ),
    Experiment(
        "timeouts",
        timeouts.timeouts,
        Weakening("timeouts", ("bookings",), "calls end within the timeout"),
    ),
    Experiment(
        "compensation-declined",
        compensation.declined,
        Weakening("compensation", ("bookings",), "slot released"),
    ),
    Experiment("compensation-payments-down", compensation.payments_down),
    Experiment("compensation-payments-slow", compensation.payments_slow),
    Experiment("confirm-retried-forward", compensation.confirm_forward),
    Experiment(
        "outbox",
        messaging.outbox,
        Weakening("outbox", ("bookings",), "events delivered after recovery"),
    ),
    Experiment(
        "duplicate-delivery",
        messaging.duplicate_delivery,
        Weakening("consumer_dedupe", ("notifications",), "exactly one notification"),
    ),
    Experiment(
        "consumer-database-outage",
        consumer.consumer_database_outage,
        # Off, the event waits inside the consumer as in the design the issue reported: no
        # queue shows it, yet the audit, counting the consumer's in-flight gauge, still waits
        # for it instead of calling it lost.
        Weakening(
            "consumer_delay_queues",
            ("notifications",),
            "the waiting event is visible in a broker queue",
            holds=(
                "an audit before quiet says so and calls nothing lost",
                "every booking notified exactly once after the database returns",
            ),
        ),
    ),
    Experiment(
        "consumer-killed-in-backoff",
        consumer.consumer_killed_in_backoff,
        # The same switch as above, caught by the same property: `make test` runs it once.
        Weakening(
            "consumer_delay_queues",
            ("notifications",),
            "the waiting event is visible in a broker queue",
            soak_only=True,
        ),
    ),
    Experiment(
        "consumer-database-outage-60s",
        consumer.consumer_database_outage_long,
        # A retry budget shorter than the outage: the old design's 5 attempts were about 3s.
        Weakening(
            "consumer_retry_budget_s",
            ("notifications",),
            "nothing dead-lettered",
            value="10",
            restore=CHAOS_ENV["SVC_CONSUMER_RETRY_BUDGET_S"],
        ),
        soak_only=True,
    ),
    Experiment("crash-recovery", crash.crash_recovery),
    Experiment("database-outage", database.database_outage),
    Experiment("database-latency", database.database_latency),
    Experiment("degradation", degradation.stale_facilities),
)
BY_NAME = {e.name: e for e in EXPERIMENTS}


def selected() -> list[Experiment]:
    """The experiments this run includes (the soak-only ones when soaking)."""
    return [e for e in EXPERIMENTS if not e.soak_only or soaking()]


def weakened() -> list[Experiment]:
    """The experiments this run also runs with their mechanism weakened."""
    return [
        e
        for e in selected()
        if e.weakening is not None and (not e.weakening.soak_only or soaking())
    ]


def experiment(name: str) -> Experiment:
    try:
        return BY_NAME[name]
    except KeyError:
        from harness.errors import UserError

        raise UserError(f"unknown experiment {name!r} (known: {', '.join(BY_NAME)})") from None
