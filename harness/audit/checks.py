"""The checkers: pure functions from rows to results, restating the suite's invariants.

They restate the invariants independently of the suite's own code on purpose: an audit that
reused the saga's state machine would agree with any bug in it.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:
    pass
from .report import AuditReport, CheckResult
from .rows import (
    BookingRow,
    ChargeRow,
    NotificationRow,
    OutboxRow,
    ReservationRow,
    SagaEntry,
    Snapshot,
)

TERMINAL = frozenset({"confirmed", "rejected", "cancelled"})
OCCUPYING = frozenset({"held", "confirmed"})  # reservation states that occupy a slot
FORWARD = ("reserve", "charge", "confirm")
COMPENSABLE = ("reserve", "charge")  # confirm follows the pivot and is never undone
AMBIGUOUS = frozenset({"unavailable", "timeout"})  # the call may have taken effect

# --------------------------------------------------------------------------------------------
# Checkers


T = TypeVar("T")


def _by_booking(rows: Iterable[T], key: str = "booking_id") -> dict[str, list[T]]:
    grouped: dict[str, list[T]] = defaultdict(list)
    for row in rows:
        grouped[getattr(row, key)].append(row)
    return grouped


def check_terminal(bookings: Sequence[BookingRow]) -> CheckResult:
    result = CheckResult("terminal", "every booking ends confirmed, rejected or cancelled")
    for b in bookings:
        if b.status in TERMINAL and b.settled:
            result.ok += 1
        elif b.status in TERMINAL:
            result.add("stuck", b.id, f"{b.status} but its saga still has work left")
        elif b.status == "pending":
            result.add("stuck", b.id, "still pending after the suite went quiet")
        else:
            result.add("unexpected", b.id, f"unknown status {b.status!r}")
    return result


def check_confirmed(
    bookings: Sequence[BookingRow],
    reservations: Sequence[ReservationRow],
    charges: Sequence[ChargeRow],
) -> CheckResult:
    result = CheckResult(
        "confirmed",
        "a confirmed booking has exactly one confirmed reservation and one captured charge",
    )
    res, chg = _by_booking(reservations), _by_booking(charges)
    for b in (b for b in bookings if b.status == "confirmed"):
        before = len(result.findings)
        occupying = [r for r in res.get(b.id, []) if r.status in OCCUPYING]
        if not occupying:
            states = ", ".join(r.status for r in res.get(b.id, [])) or "no reservation"
            result.add("lost", b.id, f"confirmed but its slot is not held ({states})")
        elif len(occupying) > 1:
            result.add("duplicated", b.id, f"{len(occupying)} reservations hold slots")
        elif occupying[0].status != "confirmed":
            result.add("unexpected", b.id, "confirmed but its reservation is still only held")
        captured = [c for c in chg.get(b.id, []) if c.status == "captured"]
        if not captured:
            states = ", ".join(c.status for c in chg.get(b.id, [])) or "no charge"
            result.add("lost", b.id, f"confirmed but not paid ({states})")
        elif len(captured) > 1:
            result.add("duplicated", b.id, f"charged {len(captured)} times")
        result.ok += len(result.findings) == before
    return result


def check_compensated(
    bookings: Sequence[BookingRow],
    reservations: Sequence[ReservationRow],
    charges: Sequence[ChargeRow],
) -> CheckResult:
    result = CheckResult(
        "compensated",
        "a rejected or cancelled booking holds no slot and keeps no captured charge",
    )
    res, chg = _by_booking(reservations), _by_booking(charges)
    for b in (b for b in bookings if b.status in ("rejected", "cancelled")):
        before = len(result.findings)
        held = [r for r in res.get(b.id, []) if r.status in OCCUPYING]
        if held:
            result.add("unexpected", b.id, f"{b.status} but its slot is still {held[0].status}")
        if any(c.status == "captured" for c in chg.get(b.id, [])):
            result.add("unexpected", b.id, f"{b.status} but the charge was never refunded")
        result.ok += len(result.findings) == before
    return result


def check_slots(reservations: Sequence[ReservationRow]) -> CheckResult:
    result = CheckResult("slots", "no facility slot is held by two bookings")
    by_facility: dict[str, list[ReservationRow]] = defaultdict(list)
    for r in reservations:
        if r.status in OCCUPYING and r.facility_id and r.starts_at and r.ends_at:
            by_facility[r.facility_id].append(r)
    for facility, rows in by_facility.items():
        rows.sort(key=lambda r: (r.starts_at, r.ends_at))
        clashes: set[str] = set()
        latest_end: ReservationRow | None = None
        for r in rows:
            if latest_end is not None and r.starts_at < latest_end.ends_at:
                clashes.update({r.booking_id, latest_end.booking_id})
                result.add(
                    "duplicated",
                    facility,
                    f"bookings {latest_end.booking_id} and {r.booking_id} hold overlapping slots",
                )
            if latest_end is None or r.ends_at > latest_end.ends_at:
                latest_end = r
        result.ok += len(rows) - len(clashes)
    return result


def check_orphans(
    bookings: Sequence[BookingRow],
    reservations: Sequence[ReservationRow],
    charges: Sequence[ChargeRow],
) -> CheckResult:
    result = CheckResult(
        "orphans",
        "no charge or held slot without a booking; at most one charge per booking",
    )
    known = {b.id for b in bookings}
    for booking_id, rows in _by_booking(charges).items():
        if booking_id not in known and any(c.status == "captured" for c in rows):
            result.add("unexpected", booking_id, "money captured for a booking that does not exist")
        elif len(rows) > 1:
            result.add("duplicated", booking_id, f"{len(rows)} charges for one booking")
        else:
            result.ok += 1
    for r in reservations:
        if r.booking_id not in known and r.status in OCCUPYING:
            result.add(
                "unexpected", r.booking_id, "a slot is held for a booking that does not exist"
            )
    return result


def _saga_problem(status: str, entries: Sequence[SagaEntry]) -> str | None:
    """Why this saga log is not `forward steps, then their compensations in reverse`."""
    finished = [e for e in entries if e.status != "started" and e.step != "cancel"]
    outcome: dict[str, str | None] = {}  # last outcome of each forward step
    undone: list[str] = []  # compensations that succeeded, in order
    for e in finished:
        if e.action == "do":
            if undone:
                return f"{e.step} ran after compensation had begun"
            required = FORWARD[: FORWARD.index(e.step)] if e.step in FORWARD else ()
            missing = [s for s in required if outcome.get(s) != "ok"]
            if missing:
                return f"{e.step} ran before {missing[0]} succeeded"
            outcome[e.step] = e.detail
        elif e.status == "succeeded" and e.detail in (None, "ok"):
            if e.step in undone:
                continue  # a repeated compensation is harmless: it is idempotent downstream
            undone.append(e.step)

    def needs_undo(step: str) -> bool:
        return outcome.get(step) == "ok" or outcome.get(step) in AMBIGUOUS

    expected = [s for s in reversed(COMPENSABLE) if needs_undo(s)]
    if status == "confirmed":
        if any(outcome.get(s) != "ok" for s in FORWARD):
            missing = next(s for s in FORWARD if outcome.get(s) != "ok")
            return f"confirmed although {missing} never succeeded"
        if undone:
            return f"confirmed although {undone[0]} was compensated"
        return None
    if status in ("rejected", "cancelled"):
        if status == "rejected" and outcome.get("charge") is not None:
            return "rejected after the charge was attempted (should be cancelled)"
        if undone != expected:
            if set(expected) - set(undone):
                step = next(s for s in expected if s not in undone)
                verb = {"reserve": "release", "charge": "refund"}[step]
                return f"{status} without compensating {step} (no {verb})"
            return f"compensations ran as {undone}, expected {expected}"
        return None
    return None  # pending: reported by the terminal check


def check_saga_logs(bookings: Sequence[BookingRow], saga: Sequence[SagaEntry]) -> CheckResult:
    result = CheckResult(
        "saga-log",
        "each saga log is its committed steps then their compensations in reverse, or complete",
    )
    logs = _by_booking(saga)
    for b in bookings:
        entries = sorted(logs.get(b.id, []), key=lambda e: e.seq)
        if not entries:
            if b.status in ("confirmed", "cancelled"):
                result.add("lost", b.id, f"{b.status} but its saga log is empty")
            else:
                result.ok += 1
            continue
        problem = _saga_problem(b.status, entries)
        if problem:
            result.add("unexpected", b.id, problem)
        else:
            result.ok += 1
    known = {b.id for b in bookings}
    for booking_id in logs.keys() - known:
        result.add("unexpected", booking_id, "a saga log without a booking")
    return result


def check_outbox(outbox: Sequence[OutboxRow]) -> CheckResult:
    result = CheckResult("outbox", "every outbox row is published")
    for row in outbox:
        if row.published:
            result.ok += 1
        else:
            result.add("stuck", row.event_id, f"{row.type} from {row.service} never published")
    return result


def check_notifications(
    bookings: Sequence[BookingRow], notifications: Sequence[NotificationRow]
) -> CheckResult:
    result = CheckResult(
        "notifications",
        "every confirmed, cancelled or rejected booking is notified of it exactly once",
    )
    per_booking: dict[str, Counter[str]] = defaultdict(Counter)
    for n in notifications:
        if n.booking_id:
            per_booking[n.booking_id][n.event_type] += 1
    for b in bookings:
        if b.status not in TERMINAL:
            continue
        seen = per_booking.get(b.id, Counter())
        before = len(result.findings)
        if seen[f"booking.{b.status}"] == 0:
            result.add("lost", b.id, f"{b.status} but never notified")
        for event_type, count in sorted(seen.items()):
            if count > 1:
                result.add("duplicated", b.id, f"notified {count} times of {event_type}")
        result.ok += len(result.findings) == before
    for booking_id in sorted(per_booking.keys() - {b.id for b in bookings}):
        result.add("unexpected", booking_id, "notified about a booking that does not exist")
    return result


def check_deliveries(
    outbox: Sequence[OutboxRow], notifications: Sequence[NotificationRow], consumed: Iterable[str]
) -> CheckResult:
    """Published events other than a booking's (checked per booking above): each sent once."""
    result = CheckResult("deliveries", "every other published event is notified exactly once")
    sent = Counter(n.event_id for n in notifications)
    handled = set(consumed)
    for row in outbox:
        if not row.published or row.type not in handled or row.type.startswith("booking."):
            continue
        if sent[row.event_id] == 0:
            result.add("lost", row.event_id, f"{row.type} published but never notified")
        elif sent[row.event_id] > 1:
            result.add(
                "duplicated", row.event_id, f"{row.type} notified {sent[row.event_id]} times"
            )
        else:
            result.ok += 1
    return result


CONSUMED = ("user.created", "booking.confirmed", "booking.cancelled", "booking.rejected")


def check_quiet(moving: Sequence[tuple[str, str]]) -> CheckResult:
    result = CheckResult(
        "quiet",
        "the suite went quiet: no saga running, no event unpublished, queued, waiting out a "
        "backoff or being handled",
    )
    for subject, what in moving:
        result.add("stuck", subject, f"still moving: {what}")
    return result


# Findings that only mean something once nothing moves: before that, an event on its way is
# not lost and a saga still running is not stuck.
_NEED_QUIET = {("terminal", "stuck"), ("outbox", "stuck"), ("notifications", "lost"),
               ("deliveries", "lost")}  # fmt: skip


def audit(
    snapshot: Snapshot,
    consumed: Iterable[str] = CONSUMED,
    quiet: bool = True,
    moving: Sequence[tuple[str, str]] = (),
) -> AuditReport:
    """Check every invariant on one snapshot.

    `quiet=False` (the suite never went quiet; `moving` says what was still moving) adds a
    failed `quiet` check naming each moving part and withholds the findings that only quiet
    can prove: the audit then says "not quiet", never "lost" for an event still on its way.
    """
    s = snapshot
    checks = [
        check_terminal(s.bookings),
        check_confirmed(s.bookings, s.reservations, s.charges),
        check_compensated(s.bookings, s.reservations, s.charges),
        check_slots(s.reservations),
        check_orphans(s.bookings, s.reservations, s.charges),
        check_saga_logs(s.bookings, s.saga),
        check_outbox(s.outbox),
        check_notifications(s.bookings, s.notifications),
        check_deliveries(s.outbox, s.notifications, consumed),
    ]
    if not quiet:
        for check in checks:
            check.findings = [f for f in check.findings if (f.check, f.kind) not in _NEED_QUIET]
        checks.insert(0, check_quiet(moving or [("suite", "did not go quiet")]))
    return AuditReport(checks=checks, dead_letters=list(s.dead_letters), quiet=quiet)
