"""Timeouts: latency far above the call timeout ends each call within the timeout; nothing hangs."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import CHAOS_ENV, TIMEOUT_S, run, warm_up
from chaos.experiments.suite import Suite
from chaos.faults import Faults, toxics
from harness.suite_client import wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

EDGE = "bookings->payments"
LATENCY_MS = 4000  # eight times the call timeout
ATTEMPTS = int(CHAOS_ENV["SVC_RETRY_ATTEMPTS"])
MARGIN_S = 0.4
BOOKINGS = 2
# A caller that gives up here has been left hanging: the suite answers after its saga budget.
PATIENCE_S = 3.0


def timeouts(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "timeouts", f"call timeouts on {EDGE}", _body, seed=seed)


def _body(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    limit = ATTEMPTS * TIMEOUT_S + MARGIN_S
    before = set(suite.bookings)
    with faults.toxic(EDGE, toxics.latency(LATENCY_MS)):
        answers = [suite.book(facility, timeout_s=PATIENCE_S) for _ in range(BOOKINGS)]
        # Found by facility, so that requests left unanswered are counted too.
        ids = [
            b.id
            for b in suite.client.bookings(limit=10_000)
            if b.facility_id == facility and b.id not in before
        ]
        for booking_id in ids:
            suite.placed(booking_id)
        # The booking request returns after the saga's budget whatever its calls do; the
        # charge call itself, timed from the saga log, is what must end within the timeout.
        ended = wait_until(
            lambda: len(suite.saga_calls(ids, "charge")) >= len(ids), PATIENCE_S + limit
        )
        calls = suite.saga_calls(ids, "charge")
    hung = [a.describe() for a in answers if a.status is None]
    result.expect(
        "no request hangs",
        not hung,
        f"{len(hung)} of {len(answers)} bookings unanswered after {PATIENCE_S:.0f}s: {hung[:2]}"
        if hung
        else f"every booking answered ({sorted({a.status for a in answers})})",
    )
    slowest = max((c.seconds for c in calls), default=0.0)
    result.measure("slowest_charge_call_ms", round(slowest * 1000))
    result.expect(
        "calls end within the timeout",
        ended and slowest <= limit,
        f"slowest charge call {slowest * 1000:.0f} ms; {ATTEMPTS} attempts of "
        f"{TIMEOUT_S * 1000:.0f} ms plus {MARGIN_S * 1000:.0f} ms allow {limit * 1000:.0f} ms "
        f"against {LATENCY_MS} ms of injected latency"
        if ended
        else f"{len(ids) - len(calls)} of {len(ids)} charge calls still running "
        f"{PATIENCE_S + limit:.1f}s into {LATENCY_MS} ms of injected latency",
    )
    final = suite.wait_settled(deadline_s=20.0)
    stuck = [i for i in suite.bookings if i not in final or not final[i].settled]
    result.expect("every booking settles after the fault", not stuck, f"unsettled: {stuck}")
