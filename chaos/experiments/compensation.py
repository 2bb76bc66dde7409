"""Saga compensation: a failed charge releases the slot and cancels the booking; past the pivot
(the charge), a failing confirm is retried forward until the booking is confirmed."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import run, warm_up
from chaos.experiments.suite import Suite, status_of
from chaos.faults import Faults, toxics
from harness.suite_client import DECLINED_CARD, Booking, SuiteError, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

PAYMENTS = "bookings->payments"
FACILITIES = "bookings->facilities"
BOOKINGS = 2


def declined(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack, "compensation-declined", "compensation of a declined charge", _declined, seed=seed
    )


def payments_down(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack, "compensation-payments-down", "compensation when payments is down", _down, seed=seed
    )


def payments_slow(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack,
        "compensation-payments-slow",
        "compensation when payments is slower than the timeout",
        _slow,
        seed=seed,
    )


def confirm_forward(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack,
        "confirm-retried-forward",
        "forward recovery after the charge",
        _forward,
        seed=seed,
    )


def _reservation(suite: Suite, booking_id: str) -> str:
    """The slot's state at facilities: held, confirmed, released, or absent."""
    try:
        return suite.client.reservation(booking_id).status
    except SuiteError as refused:
        return "absent" if refused.status == 404 else f"{refused.status}"


def _charge(suite: Suite, booking_id: str) -> str:
    """The charge's state at payments: captured, refunded, voided, or absent."""
    try:
        return suite.client.charge(booking_id).status
    except SuiteError as refused:
        return "absent" if refused.status == 404 else f"{refused.status}"


def _expect_compensated(
    suite: Suite, result: Result, final: dict[str, Booking], ids: list[str], reason: str
) -> None:
    outcomes = {i: (status_of(final, i), final[i].reason if i in final else None) for i in ids}
    result.expect(
        "booking cancelled",
        all(o == ("cancelled", reason) for o in outcomes.values()),
        f"outcomes {sorted(set(outcomes.values()), key=str)} (expected cancelled, {reason})",
    )
    slots = {i: _reservation(suite, i) for i in ids}
    held = [i for i, s in slots.items() if s not in ("released", "absent")]
    result.expect(
        "slot released",
        not held,
        f"{len(held)} of {len(ids)} cancelled bookings still hold their slot "
        f"({', '.join(sorted({slots[i] for i in held}))})"
        if held
        else f"all {len(ids)} slots released",
    )
    charges = {i: _charge(suite, i) for i in ids}
    kept = [i for i, c in charges.items() if c == "captured"]
    result.expect(
        "no money kept",
        not kept,
        f"{len(kept)} cancelled bookings still charged"
        if kept
        else f"charges {sorted(set(charges.values()))}",
    )


def _declined(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    slots = [suite.slot() for _ in range(BOOKINGS)]
    ids = [a.booking_id for a in (suite.book(facility, card=DECLINED_CARD, slot=s) for s in slots)]
    final = suite.wait_settled([i for i in ids if i], 15.0)
    _expect_compensated(suite, result, final, [i for i in ids if i], "payment_declined")
    again = [suite.book(facility, slot=s).booking_id for s in slots]
    rebooked = suite.wait_settled([i for i in again if i], 15.0)
    confirmed = sum(1 for b in rebooked.values() if b.status == "confirmed")
    result.expect(
        "the released slot can be booked again",
        confirmed == BOOKINGS,
        f"{confirmed} of {BOOKINGS} released slots booked again",
    )


def _down(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    with faults.down(PAYMENTS):
        answers = [suite.book(facility) for _ in range(BOOKINGS)]
        ids = [a.booking_id for a in answers if a.booking_id]
        unclean = [a.describe() for a in answers if not a.clean]
        result.expect(
            "clean answers while payments is down",
            not unclean and len(ids) == BOOKINGS,
            f"answers {[a.describe() for a in answers]}",
        )
        # Heal only once every charge has really been tried against the dead edge.
        tried = wait_until(lambda: len(suite.saga_calls(ids, "charge")) >= len(ids), 5.0)
        result.expect(
            "charges tried while payments is down",
            tried,
            f"{len(suite.saga_calls(ids, 'charge'))} of {len(ids)} charges attempted in 5s",
        )
    final = suite.wait_settled(ids, 20.0)
    _expect_compensated(suite, result, final, ids, "payment_unavailable")


def _slow(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    with faults.toxic(PAYMENTS, toxics.latency(1500)):
        answers = [suite.book(facility) for _ in range(BOOKINGS)]
        ids = [a.booking_id for a in answers if a.booking_id]
        # The charge went through slowly and timed out; hold the fault until payments has seen
        # the (equally slow) refund, so the ambiguous path is the one exercised.
        refunded = wait_until(
            lambda: all(_charge(suite, i) in ("refunded", "voided") for i in ids), 10.0, 0.1
        )
        result.measure("refund_seen_during_fault", refunded)
    final = suite.wait_settled(ids, 20.0)
    _expect_compensated(suite, result, final, ids, "payment_unavailable")


def _forward(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    # Payments answers slowly (below the timeout), which leaves a window between the capture
    # and the confirm: facilities is cut inside it.
    failed_before = _failed_calls(suite, "facilities")
    with faults.toxic(PAYMENTS, toxics.latency(400)):
        answer = suite.book(facility)
        booking_id = answer.booking_id or ""
        captured = wait_until(lambda: _charge(suite, booking_id) == "captured", 5.0, 0.01)
        key = faults.disable(FACILITIES)
    if not result.expect(
        "charge captured before the cut", captured, f"charge {_charge(suite, booking_id)}"
    ):
        return
    # Wait until bookings has really tried to confirm against the cut edge.
    wait_until(lambda: _failed_calls(suite, "facilities") > failed_before, 5.0)
    read = suite.client.try_booking(booking_id).value
    during = read.status if read else None
    result.expect(
        "not compensated past the pivot",
        during in ("pending", "confirmed"),
        f"booking {during} while facilities was down after the charge",
    )
    faults.undo(*key)
    final = suite.wait_settled([booking_id], 20.0).get(booking_id)
    result.expect(
        "confirmed after heal",
        final is not None and final.status == "confirmed",
        f"booking {final and final.status} ({final and final.reason}), "
        f"charge {_charge(suite, booking_id)}, slot {_reservation(suite, booking_id)}",
    )


def _failed_calls(suite: Suite, downstream: str) -> float:
    metric = "faultline_downstream_requests_total"
    outcomes = ("transport_error", "timeout", "server_error", "breaker_open")
    return sum(suite.metric("bookings", metric, downstream=downstream, outcome=o) for o in outcomes)
