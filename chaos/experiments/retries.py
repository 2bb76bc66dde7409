"""Retries: transient resets on bookings->payments absorbed with no error and no double effect."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import CHAOS_ENV, run, warm_up
from chaos.experiments.suite import Suite, status_of
from chaos.faults import Faults, toxics
from harness.suite_client import Answer, SuiteError, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

EDGE = "bookings->payments"
BOOKINGS = 3
# Enough attempts (with their backoff, several seconds) to outlast the fault by far, and a
# breaker that tolerates all of them. Every attempt counts as a breaker failure: under the
# chaos stack's threshold (3) the breaker opened after the third reset, 0-60 ms into the
# fault, whenever lifting the fault took longer than that (a /metrics scrape and a proxy
# call on a busy machine), and the charge then failed fast without a further attempt.
# Retries are what this experiment measures; the breaker has its own.
ATTEMPTS = "10"
BREAKER_THRESHOLD = "20"
RETRY_SEEN_S = 3.0


def retries(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "retries", f"retries on {EDGE}", _body, seed=seed)


def _body(faults: Faults, suite: Suite, result: Result) -> None:
    faults.restart(
        "bookings", {"SVC_RETRY_ATTEMPTS": ATTEMPTS, "SVC_BREAKER_THRESHOLD": BREAKER_THRESHOLD}
    )
    try:
        _measure(faults, suite, result)
    finally:
        restored = ("SVC_RETRY_ATTEMPTS", "SVC_BREAKER_THRESHOLD")
        faults.restart("bookings", {name: CHAOS_ENV[name] for name in restored})


def _measure(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    retried = lambda: suite.metric("bookings", "faultline_retries_total", downstream="payments")  # noqa: E731
    before = retried()
    answers: list[Answer] = []
    with ThreadPoolExecutor(1) as pool:
        for _ in range(BOOKINGS):
            # Every connection to payments is reset until bookings retries; then the fault
            # lifts, as a transient network fault does.
            key = faults.add(EDGE, toxics.reset_peer())
            seen = retried()
            pending = pool.submit(suite.book, facility)
            absorbed = wait_until(lambda s=seen: retried() > s, RETRY_SEEN_S, 0.005)
            faults.undo(key)
            answers.append(pending.result())
            if not absorbed:
                break  # no retry came: the caller has already been handed the failure
    ids = [a.booking_id for a in answers if a.booking_id]
    final = suite.wait_settled(ids, 20.0)
    extra = retried() - before
    result.measure("retries_counted", extra)
    outcomes = [status_of(final, i) for i in ids]
    confirmed = outcomes.count("confirmed")
    failed = [a.describe() for a in answers if not a.clean]
    result.expect(
        "no error reaches the caller",
        not failed and confirmed == BOOKINGS,
        f"{confirmed} of {BOOKINGS} bookings confirmed when the first connections to payments "
        f"were reset"
        + (
            f"; the others ended {sorted({str(o) for o in outcomes} - {'confirmed'})}"
            if confirmed < len(ids)
            else ""
        )
        + (f"; failed requests {failed[:3]}" if failed else ""),
    )
    result.expect(
        "retries visible in /metrics",
        extra > 0,
        f"faultline_retries_total{{service=bookings,downstream=payments}} rose by {extra:.0f}",
    )
    captured = sum(1 for i in ids if _charge(suite, i) == "captured")
    result.expect(
        "one charge per booking",
        captured == confirmed,
        f"{captured} captured charges for {confirmed} confirmed bookings",
    )


def _charge(suite: Suite, booking_id: str) -> str | None:
    try:
        return suite.client.charge(booking_id).status
    except SuiteError:
        return None
