"""The event consumer under its own faults: its database away (briefly, and for a minute while
bookings keep confirming), and a SIGKILL while an event waits out its backoff. A failed event
must wait in a broker delay queue, where anyone can count it and no crash can lose it, and be
notified exactly once when the consumer can handle it again; nothing may be dead-lettered."""

from __future__ import annotations

import time
from collections.abc import Iterable
from typing import TYPE_CHECKING

from chaos.experiments.messaging import notified
from chaos.experiments.result import Result
from chaos.experiments.runner import run, warm_up
from chaos.experiments.suite import Suite, status_of
from chaos.faults import Faults
from harness.audit import Activity, AuditReport, activity_stack, audit_stack, wait_quiet_stack
from harness.suite_client import wait_until

if TYPE_CHECKING:
    from harness.stack import Stack

CONSUMER = "notifications"
QUIET_DEADLINE_S = 30.0
SEEN_DEADLINE_S = 5.0  # the first retries come within a second; the rest is CPU contention
SHORT_OUTAGE_S = 0.5  # how much longer the database stays away once the event was audited
EARLY_AUDIT_S = 1.0  # an audit with this little patience runs while the event is on its way
LONG_OUTAGE_S = 60.0
LONG_BOOKINGS = 6
# The kill waits for a tier whose backoff (0.8 s and more with the chaos settings) is far longer
# than one look at the broker, so it lands while the event waits.
LONG_TIER = 4


def consumer_database_outage(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack,
        "consumer-database-outage",
        "event consumer through an outage of its own database",
        _short_outage,
        seed=seed,
    )


def consumer_database_outage_long(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack,
        "consumer-database-outage-60s",
        f"event consumer through a {LONG_OUTAGE_S:.0f}s outage of its own database",
        _long_outage,
        seed=seed,
    )


def consumer_killed_in_backoff(stack: Stack, *, seed: int = 0) -> Result:
    return run(
        stack,
        "consumer-killed-in-backoff",
        "an event waiting out its backoff survives a SIGKILL of its consumer",
        _killed,
        seed=seed,
    )


def _retries(suite: Suite) -> float:
    return suite.metric(CONSUMER, "faultline_consumer_retries_total")


def _tier(queue: str) -> int:
    return int(queue.rsplit(".", 1)[1])


def _waiting(look: Activity, min_tier: int = 1) -> list[str]:
    return [q for q, n in look.delayed.items() if n and _tier(q) >= min_tier]


def _wait_in_delay_queue(
    suite: Suite, result: Result, *, min_tier: int = 1, deadline_s: float = SEEN_DEADLINE_S
) -> str | None:
    """Where the failed event waits out its backoff, as the broker shows it; None if nowhere."""
    looks: list[Activity] = []

    def seen() -> bool:
        looks.append(activity_stack(suite.stack))
        return bool(_waiting(looks[-1], min_tier))

    found = wait_until(seen, deadline_s, 0.02)
    where = _waiting(looks[-1], min_tier)[0] if found else None
    result.expect(
        "the waiting event is visible in a broker queue",
        found,
        f"seen waiting out its backoff in {where}"
        if found
        else f"in no delay queue{f' of tier {min_tier}+' if min_tier > 1 else ''} within "
        f"{deadline_s:.0f}s of its first failure; last look: {looks[-1].describe()}",
    )
    return where


def _confirmed(suite: Suite, result: Result, ids: list[str], during: str) -> None:
    final = suite.wait_settled(ids, 15.0)
    confirmed = sum(1 for i in ids if status_of(final, i) == "confirmed")
    result.expect(
        f"bookings confirm {during}",
        confirmed == len(ids) > 0,
        f"{confirmed} of {len(ids)} confirmed",
    )


def _expect_notified_once(suite: Suite, result: Result, ids: Iterable[str]) -> None:
    ids = list(ids)
    quiet = wait_quiet_stack(suite.stack, timeout=QUIET_DEADLINE_S)
    counts = {i: len(notified(suite, i)) for i in ids}
    wrong = {i: n for i, n in counts.items() if n != 1}
    result.expect(
        "every booking notified exactly once after the database returns",
        not wrong,
        f"all {len(ids)} notified once"
        if not wrong
        else f"{len(wrong)} of {len(ids)} notified {sorted(set(wrong.values()))} time(s)"
        + ("" if quiet else f"; still moving after {QUIET_DEADLINE_S:.0f}s"),
    )
    report = audit_stack(suite.stack, wait=False)
    letters = [
        f"{d.message_id} ({d.type}: {d.reason})" for d in report.dead_letters if d.booking_id in ids
    ]
    result.measure("dead_letters", len(letters))
    result.expect(
        "nothing dead-lettered",
        not letters,
        f"{len(letters)} event(s) dead-lettered: {'; '.join(letters[:2])}"
        if letters
        else "no event of these bookings in the dead-letter queue",
    )


def _audit_before_quiet(suite: Suite, result: Result, booking_id: str) -> None:
    """An audit while the event is on its way must say "not quiet" and call nothing lost."""
    early: AuditReport = audit_stack(suite.stack, timeout=EARLY_AUDIT_S)
    # This booking only: a weakened stack keeps the damage earlier runs did on purpose.
    lost = [f"{f.check}: {f.detail}" for f in early.violations if f.subject == booking_id]
    moving = (
        [f"{f.subject}: {f.detail}" for f in early.check("quiet").findings]
        if (not early.quiet)
        else []
    )
    result.expect(
        "an audit before quiet says so and calls nothing lost",
        not early.quiet and not lost and bool(moving),
        f"not quiet; moving: {'; '.join(moving[:3])}"
        if not early.quiet and not lost
        else f"quiet={early.quiet}, lost: {lost or 'none'} (booking {booking_id})",
    )


def _short_outage(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    wait_quiet_stack(suite.stack, timeout=QUIET_DEADLINE_S)
    retries_before = _retries(suite)
    with faults.database_outage(CONSUMER):
        booking_id = suite.book(facility).booking_id or ""
        _confirmed(suite, result, [booking_id], "while notifications' database is away")
        _wait_in_delay_queue(suite, result)
        _audit_before_quiet(suite, result, booking_id)
        time.sleep(SHORT_OUTAGE_S)  # the fault's duration, not a synchronisation point
    result.measure("retries_during_outage", _retries(suite) - retries_before)
    _expect_notified_once(suite, result, [booking_id])


def _long_outage(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    wait_quiet_stack(suite.stack, timeout=QUIET_DEADLINE_S)
    retries_before = _retries(suite)
    ids: list[str] = []
    with faults.database_outage(CONSUMER):
        t0 = time.monotonic()
        for k in range(LONG_BOOKINGS):
            # Spread over the outage, so events arrive at every point of their retry budget.
            faults.sleep_until(t0, k * LONG_OUTAGE_S / LONG_BOOKINGS)
            answer = suite.book(facility)
            if answer.booking_id:
                ids.append(answer.booking_id)
        _confirmed(suite, result, ids, "while notifications' database is away")
        faults.sleep_until(t0, LONG_OUTAGE_S)  # the fault's duration
    healed = time.monotonic()
    result.measure("retries_during_outage", _retries(suite) - retries_before)
    _expect_notified_once(suite, result, ids)
    result.measure("quiet_after_heal_s", round(time.monotonic() - healed, 1))


def _killed(faults: Faults, suite: Suite, result: Result) -> None:
    facility = suite.facility()
    warm_up(suite, result, facility)
    wait_quiet_stack(suite.stack, timeout=QUIET_DEADLINE_S)
    with faults.database_outage(CONSUMER):
        booking_id = suite.book(facility).booking_id or ""
        _confirmed(suite, result, [booking_id], "while notifications' database is away")
        where = _wait_in_delay_queue(suite, result, min_tier=LONG_TIER)
        faults.kill(CONSUMER)
        result.measure("killed_while_waiting_in", where)
        looks: list[Activity] = []

        def in_a_queue() -> bool:
            looks.append(activity_stack(suite.stack))
            return looks[-1].waiting >= 1

        # Nothing of the event lives in the dead process: a queue holds it (a delivery the
        # process held is requeued by the broker once the connection is gone).
        held = wait_until(in_a_queue, 5.0)
        queues = {q: n for q, n in {**looks[-1].queued, **looks[-1].delayed}.items() if n}
        result.expect(
            "the event is in a queue while its consumer is dead",
            held,
            f"held by {queues}" if held else f"in no queue: {looks[-1].describe()}",
        )
    faults.restart(CONSUMER)
    _expect_notified_once(suite, result, [booking_id])
