"""Events under broker faults: the outbox holds events through an outage, and the consumer's
inbox turns a redelivery into a no-op. The consumer's own faults (its database away, a crash
while an event waits out its backoff) are in `consumer.py`."""

from __future__ import annotations

from typing import TYPE_CHECKING

from chaos.experiments.result import Result
from chaos.experiments.runner import run, warm_up
from chaos.experiments.suite import Suite, status_of
from chaos.faults import Faults, toxics
from harness.audit import wait_quiet_stack
from harness.suite_client import Notification, SuiteError, wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

CONSUMER_EDGE = "notifications->rabbitmq"
BOOKINGS = 3
DELIVERY_DEADLINE_S = 25.0  # a robust connection retries every few seconds


def outbox(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "outbox", "transactional outbox through a broker outage", _outbox, seed=seed)


def duplicate_delivery(stack: Stack, *, seed: int = 0) -> Result:
    return run(stack, "duplicate-delivery", "idempotent consumer (inbox)", _duplicate, seed=seed)


def notified(suite: Suite, booking_id: str) -> list[Notification]:
    """The messages sent for a booking; none while notifications cannot say."""
    try:
        return suite.client.notifications(booking_id=booking_id)
    except SuiteError:
        return []


def _outbox(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    with faults.broker_outage():
        answers = [suite.book(facility) for _ in range(BOOKINGS)]
        ids = [a.booking_id for a in answers if a.booking_id]
        final = suite.wait_settled(ids, 10.0)
        confirmed = sum(1 for i in ids if status_of(final, i) == "confirmed")
        result.expect(
            "bookings accepted while the broker is down",
            confirmed == BOOKINGS,
            f"{confirmed} of {BOOKINGS} confirmed; answers {[a.describe() for a in answers]}",
        )
    # Quiet means the outbox is drained and the consumer has caught up: whatever is not
    # delivered by then never will be.
    wait_quiet_stack(suite.stack, timeout=DELIVERY_DEADLINE_S)
    counts = {i: len(notified(suite, i)) for i in ids}
    missing = [i for i, n in counts.items() if n == 0]
    result.expect(
        "events delivered after recovery",
        not missing,
        f"{len(missing)} of {len(ids)} confirmed bookings never notified once the broker "
        "was back and the suite had gone quiet: events lost"
        if missing
        else f"all {len(ids)} notified",
    )
    twice = [i for i, n in counts.items() if n > 1]
    result.expect("notified exactly once", not twice, f"notifications per booking {counts}")


def _duplicate(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    skipped = lambda: suite.metric(  # noqa: E731
        "notifications", "faultline_notifications_events_total", outcome="duplicate"
    )
    before = skipped()
    # Client-to-broker bytes vanish: the consumer receives and handles the event, but its ack
    # never arrives, so the broker still holds the message as unacknowledged.
    with faults.toxic(CONSUMER_EDGE, toxics.blackhole()):
        answer = suite.book(facility)
        booking_id = answer.booking_id or ""
        handled = wait_until(lambda: bool(notified(suite, booking_id)), 10.0)
        if not result.expect(
            "event handled before the ack",
            handled,
            "notification recorded" if handled else "no notification arrived within 10s",
        ):
            return
    # Cut the connection: the broker redelivers what was never acknowledged.
    with faults.down(CONSUMER_EDGE):
        pass
    redelivered = wait_until(
        lambda: skipped() > before or len(notified(suite, booking_id)) > 1,
        DELIVERY_DEADLINE_S,
        0.1,
    )
    result.expect(
        "the event was redelivered",
        redelivered,
        "the broker redelivered the unacknowledged event after the cut"
        if redelivered
        else f"no redelivery seen {DELIVERY_DEADLINE_S:.0f}s after the consumer's connection "
        "was cut",
    )
    sent = notified(suite, booking_id)
    result.measure("notifications_for_booking", len(sent))
    result.expect(
        "exactly one notification",
        len(sent) == 1,
        f"booking notified {len(sent)} time(s) after its event was delivered twice",
    )
