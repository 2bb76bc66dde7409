"""Every experiment, and the resilience switch whose removal it must catch."""

from __future__ import annotations

import contextlib
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING

from chaos.experiments import (
    breaker,
    compensation,
    crash,
    database,
    degradation,
    messaging,
    retries,
    timeouts,
)
from chaos.experiments.result import Result

if TYPE_CHECKING:
    from harness.stack import Stack


@dataclass(frozen=True)
class Weakening:
    """Turn `switch` off in `services` and the experiment must report `breaks` broken."""

    switch: str
    services: tuple[str, ...]
    breaks: str

    @property
    def variable(self) -> str:
        return f"SVC_{self.switch.upper()}"

    @contextlib.contextmanager
    def applied(self, stack: Stack) -> Iterator[None]:
        """The services restarted with the switch off, and on again afterwards."""
        try:
            for service in self.services:
                stack.restart(service, {self.variable: "false"})
            yield
        finally:
            for service in self.services:
                stack.restart(service, {self.variable: "true"})


@dataclass(frozen=True)
class Experiment:
    name: str
    run: Callable[..., Result]
    weakening: Weakening | None = None

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
    Experiment("consumer-database-outage", messaging.consumer_database_outage),
    Experiment("crash-recovery", crash.crash_recovery),
    Experiment("database-outage", database.database_outage),
    Experiment("database-latency", database.database_latency),
    Experiment("degradation", degradation.stale_facilities),
)
BY_NAME = {e.name: e for e in EXPERIMENTS}


def experiment(name: str) -> Experiment:
    try:
        return BY_NAME[name]
    except KeyError:
        from harness.errors import UserError

        raise UserError(f"unknown experiment {name!r} (known: {', '.join(BY_NAME)})") from None
