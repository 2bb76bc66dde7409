"""Circuit breaker on bookings->payments: opens, fails fast, half-opens, closes, all in /metrics."""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import RECOVERY_S, THRESHOLD, TIMEOUT_S, run, warm_up
from chaos.experiments.suite import Suite, p99, status_of
from chaos.faults import Faults, toxics
from harness.suite_client import Answer, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

EDGE = "bookings->payments"
FAST_SAMPLES = 6
OPEN_DEADLINE_S = 4 * TIMEOUT_S + 2
WINDOW_S = RECOVERY_S * 0.8
# "Far below the call timeout": an open breaker answers without waiting on the network.
FAST_LIMIT_S = TIMEOUT_S / 2


def circuit_breaker(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "circuit-breaker", f"circuit breaker on {EDGE}", _body, seed=seed)


def _body(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    state = lambda: suite.breaker_state("bookings", "payments")  # noqa: E731
    result.expect("closed while healthy", state() == "closed", f"state {state()}")
    answers: list[Answer] = []
    with faults.toxic(EDGE, toxics.blackhole()):
        t_fault = time.monotonic()
        # Two bookings whose charges time out on every attempt exceed the threshold.
        answers += [suite.book(facility) for _ in range(2)]
        opened = wait_until(lambda: state() == "open", OPEN_DEADLINE_S, 0.02)
        window_start = datetime.now(UTC)
        result.measure("opened_after_s", round(time.monotonic() - t_fault, 2))
        result.expect(
            "opens after its threshold",
            opened,
            f"open {time.monotonic() - t_fault:.1f}s after payments stopped answering"
            if opened
            else f"still {state()} {OPEN_DEADLINE_S:.0f}s after payments stopped answering "
            f"(threshold {THRESHOLD} failures)",
        )
        fast = [suite.book(facility) for _ in range(FAST_SAMPLES)]
        answers += fast
        # Wait until every one of them has tried its charge (or the window has passed).
        ids = [a.booking_id for a in fast if a.booking_id]
        wait_until(lambda: len(suite.saga_calls(ids, "charge")) >= len(ids), WINDOW_S)
        _fails_fast(suite, result, ids, window_start)
        unclean = [a.describe() for a in answers if not a.clean]
        result.expect(
            "clean answers while payments hangs",
            not unclean,
            f"{len(unclean)} of {len(answers)} not clean: {', '.join(unclean[:3])}"
            if unclean
            else f"all {len(answers)} answered {sorted({a.status for a in answers})}",
        )
        if opened:
            _half_open(suite, result, state)
    closed = wait_until(lambda: state() == "closed", RECOVERY_S + 10)
    result.expect("closed after a success", closed, f"state {state()} after healing")
    after = suite.book(facility)
    final = suite.wait_settled([after.booking_id] if after.booking_id else [], 10.0)
    status = status_of(final, after.booking_id)
    result.expect("bookings confirm again", status == "confirmed", f"next booking {status}")


def _fails_fast(suite: Suite, result: Result, ids: list[str], window_start: datetime) -> None:
    """The charge calls made while the breaker was open, timed from the saga log.

    A booking's request returns after the saga's budget whatever its calls do, so the call
    itself is what must fail fast; calls after the recovery time may be trial calls."""
    window_end = window_start + timedelta(seconds=RECOVERY_S * 0.8)
    calls = [
        c for c in suite.saga_calls(ids, "charge") if window_start <= c.started_at < window_end
    ]
    slowest = p99(c.seconds for c in calls)
    result.measure("charge_calls_while_open", len(calls))
    result.measure("p99_ms_while_open", round(slowest * 1000))
    result.expect(
        "fails fast while open",
        bool(calls) and slowest < FAST_LIMIT_S,
        f"p99 {slowest * 1000:.0f} ms over {len(calls)} charge calls in the "
        f"{RECOVERY_S * 0.8:.1f}s after the threshold was reached; the call timeout is "
        f"{TIMEOUT_S * 1000:.0f} ms and an open breaker must answer in under "
        f"{FAST_LIMIT_S * 1000:.0f} ms"
        if calls
        else "no charge call was made while the breaker was open",
    )


def _calls(suite: Suite, outcome: str) -> float:
    return suite.metric(
        "bookings", "faultline_downstream_requests_total", downstream="payments", outcome=outcome
    )


def _half_open(suite: Suite, result: Result, state: Callable[[], str]) -> None:
    """After the recovery time one trial call goes through to payments (and, under the fault,
    fails and re-opens the breaker). The gauge shows half-open only for the instant of the
    transition, so the trial is observed by the calls that reach the network again."""
    rejected_before = _calls(suite, "breaker_open")
    trials_before = _calls(suite, "timeout")
    t0 = time.monotonic()
    # While open, calls are refused without touching the network...
    refused = wait_until(lambda: _calls(suite, "breaker_open") > rejected_before, 3.0, 0.02)
    # ...until the recovery time has passed and a trial call is let through.
    trial = wait_until(lambda: _calls(suite, "timeout") > trials_before, RECOVERY_S + 4, 0.02)
    after = time.monotonic() - t0
    result.measure("trial_call_after_s", round(after, 2))
    result.expect(
        "half-open after the recovery time",
        refused and trial,
        f"calls refused while open: {'yes' if refused else 'none seen'}; a trial call reached "
        f"payments {after:.1f}s later (recovery {RECOVERY_S:.0f}s), breaker now {state()}"
        if trial
        else f"no trial call reached payments within {RECOVERY_S + 4:.0f}s (breaker {state()})",
    )
