"""Database faults on a service->postgres edge: not ready, 503 (never 500), recovery."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import run
from chaos.experiments.suite import Suite
from chaos.faults import Faults
from harness.suite_client import Answer, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

SERVICE = "facilities"
LATENCY_MS = 3000  # above the readiness probe's own 2 s budget
READY_BUDGET_S = 2.0  # the kernel's probe budget (Database.ping); /ready answers within it
RECOVERY_DEADLINE_S = 20.0


def database_outage(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "database-outage", f"{SERVICE} through a database outage", _outage, seed=seed)


def database_latency(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "database-latency", f"{SERVICE} with a slow database", _latency, seed=seed)


def _ready(suite: Suite) -> Answer:
    return suite.client.send("GET", "/ready", service=SERVICE)


def _create(suite: Suite) -> Answer:
    return suite.client.try_create_facility("Hall", 10)


def _problem(answer: Answer) -> bool:
    return answer.problem is not None


def _outage(faults: Faults, suite: Suite, result: Result) -> None:
    with faults.database_outage(SERVICE):
        not_ready = wait_until(lambda: _ready(suite).status == 503, 5.0, 0.1)
        ready = _ready(suite)
        result.expect(
            "/ready false while the database is away",
            not_ready,
            f"/ready answered {ready.describe()} {ready.body}",
        )
        answers = [_create(suite), suite.client.try_facilities()]
        result.expect(
            "503 with a problem body, not 500",
            all(a.status == 503 and _problem(a) for a in answers),
            f"answers {[a.describe() for a in answers]}",
        )
    _recovers(suite, result)


def _latency(faults: Faults, suite: Suite, result: Result) -> None:
    with faults.database_latency(SERVICE, LATENCY_MS):
        ready = _ready(suite)
        result.expect(
            "/ready false while the database is slow",
            ready.status == 503,
            f"/ready answered {ready.describe()} with {LATENCY_MS} ms on {SERVICE}->postgres",
        )
        result.measure("ready_ms_while_slow", round(ready.seconds * 1000))
        result.expect(
            "/ready answers within its probe budget",
            ready.status is not None and ready.seconds < READY_BUDGET_S + 0.5,
            f"/ready answered after {ready.seconds * 1000:.0f} ms (budget {READY_BUDGET_S} s)",
        )
    _recovers(suite, result)


def _recovers(suite: Suite, result: Result) -> None:
    back = wait_until(lambda: _ready(suite).status == 200, RECOVERY_DEADLINE_S, 0.1)
    created = _create(suite)
    result.expect(
        "recovers after heal",
        back and created.status == 201,
        f"/ready {_ready(suite).describe()}, create {created.describe()} after heal",
    )
