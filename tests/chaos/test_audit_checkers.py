"""The audit's checkers on fabricated rows: a healthy run passes, each broken invariant is named."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from harness.audit import (
    AuditReport,
    BookingRow,
    ChargeRow,
    DeadLetter,
    NotificationRow,
    OutboxRow,
    ReservationRow,
    SagaEntry,
    Snapshot,
    audit,
)

pytestmark = pytest.mark.unit

T0 = datetime(2026, 12, 1, 10, tzinfo=UTC)
HOUR = timedelta(hours=1)


def _log(booking_id: str, *steps: tuple[str, str, str]) -> list[SagaEntry]:
    """Saga entries: each (step, action, outcome) logged as started then finished."""
    entries: list[SagaEntry] = []
    for step, action, outcome in steps:
        entries.append(SagaEntry(booking_id, len(entries), step, action, "started"))
        status = "succeeded" if outcome == "ok" else "failed"
        entries.append(SagaEntry(booking_id, len(entries), step, action, status, outcome))
    return entries


def healthy() -> Snapshot:
    """One confirmed, one declined-and-compensated, one rejected booking; all notified."""
    s = Snapshot()
    s.bookings = [
        BookingRow("b-ok", "confirmed", facility_id="f1"),
        BookingRow("b-declined", "cancelled", "payment_declined", facility_id="f1"),
        BookingRow("b-rejected", "rejected", "slot_unavailable", facility_id="f1"),
    ]
    s.saga = [
        *_log("b-ok", ("reserve", "do", "ok"), ("charge", "do", "ok"), ("confirm", "do", "ok")),
        *_log(
            "b-declined",
            ("reserve", "do", "ok"),
            ("charge", "do", "declined"),
            ("reserve", "compensate", "ok"),
        ),
        *_log("b-rejected", ("reserve", "do", "conflict")),
    ]
    s.reservations = [
        ReservationRow("b-ok", "f1", T0, T0 + HOUR, "confirmed"),
        ReservationRow("b-declined", "f1", T0 + HOUR, T0 + 2 * HOUR, "released"),
    ]
    s.charges = [ChargeRow("b-ok", "captured", "c1", 1000)]
    s.outbox = [
        OutboxRow("users", "e-user", "user.created", True),
        OutboxRow("bookings", "e1", "booking.confirmed", True),
        OutboxRow("bookings", "e2", "booking.cancelled", True),
        OutboxRow("bookings", "e3", "booking.rejected", True),
    ]
    s.notifications = [
        NotificationRow("n0", "e-user", "user.created", user_id="u1"),
        NotificationRow("n1", "e1", "booking.confirmed", "b-ok"),
        NotificationRow("n2", "e2", "booking.cancelled", "b-declined"),
        NotificationRow("n3", "e3", "booking.rejected", "b-rejected"),
    ]
    return s


def only_violation(report: AuditReport) -> tuple[str, str, str, str]:
    assert len(report.violations) == 1, report.explain()
    f = report.violations[0]
    return f.check, f.kind, f.subject, f.detail


def test_a_healthy_run_passes_with_every_subject_counted_ok() -> None:
    report = audit(healthy())
    assert report.passed, report.explain()
    assert report.counts() == {"ok": 19, "lost": 0, "duplicated": 0, "stuck": 0, "unexpected": 0}
    assert report.summary().startswith("audit passed")


def test_a_pending_booking_is_stuck() -> None:
    s = healthy()
    s.bookings.append(BookingRow("b-wait", "pending"))
    s.saga += _log("b-wait", ("reserve", "do", "ok"))
    s.reservations.append(ReservationRow("b-wait", "f1", T0 + 3 * HOUR, T0 + 4 * HOUR, "held"))
    report = audit(s)
    assert only_violation(report)[:3] == ("terminal", "stuck", "b-wait")
    assert report.check("terminal").ids("stuck") == ["b-wait"]


def test_a_confirmed_booking_without_a_charge_is_lost_money() -> None:
    s = healthy()
    s.charges = []
    check, kind, subject, detail = only_violation(audit(s))
    assert (check, kind, subject) == ("confirmed", "lost", "b-ok")
    assert "not paid" in detail


def test_a_confirmed_booking_whose_charge_was_refunded_is_reported() -> None:
    s = healthy()
    s.charges = [ChargeRow("b-ok", "refunded")]
    assert only_violation(audit(s))[:3] == ("confirmed", "lost", "b-ok")


def test_a_confirmed_booking_with_a_released_slot_is_reported() -> None:
    s = healthy()
    s.reservations[0] = replace(s.reservations[0], status="released")
    check, kind, subject, detail = only_violation(audit(s))
    assert (check, kind, subject) == ("confirmed", "lost", "b-ok")
    assert "released" in detail


def test_a_cancelled_booking_that_still_holds_its_slot_is_reported() -> None:
    s = healthy()
    s.reservations[1] = replace(s.reservations[1], status="held")
    # Without the release in its saga log, the saga check names the missing compensation too.
    s.saga = [e for e in s.saga if e.action != "compensate"]
    report = audit(s)
    findings = {(f.check, f.kind, f.subject) for f in report.violations}
    assert findings == {
        ("compensated", "unexpected", "b-declined"),
        ("saga-log", "unexpected", "b-declined"),
    }
    assert "no release" in report.check("saga-log").findings[0].detail


def test_a_cancelled_booking_with_a_captured_charge_is_reported() -> None:
    s = healthy()
    s.charges.append(ChargeRow("b-declined", "captured"))
    check, kind, subject, detail = only_violation(audit(s))
    assert (check, kind, subject) == ("compensated", "unexpected", "b-declined")
    assert "never refunded" in detail


def test_overlapping_held_slots_on_one_facility_are_duplicated() -> None:
    s = healthy()
    s.bookings.append(BookingRow("b-twin", "confirmed"))
    s.saga += _log(
        "b-twin", ("reserve", "do", "ok"), ("charge", "do", "ok"), ("confirm", "do", "ok")
    )
    s.reservations.append(ReservationRow("b-twin", "f1", T0 + HOUR / 2, T0 + HOUR, "confirmed"))
    s.charges.append(ChargeRow("b-twin", "captured"))
    s.notifications.append(NotificationRow("n9", "e9", "booking.confirmed", "b-twin"))
    check, kind, subject, detail = only_violation(audit(s))
    assert (check, kind, subject) == ("slots", "duplicated", "f1")
    assert "b-ok" in detail and "b-twin" in detail


def test_adjacent_slots_and_other_facilities_do_not_clash() -> None:
    s = healthy()
    for booking_id, facility, start in (("b-next", "f1", T0 + HOUR), ("b-other", "f2", T0)):
        s.bookings.append(BookingRow(booking_id, "confirmed"))
        s.saga += _log(
            booking_id, ("reserve", "do", "ok"), ("charge", "do", "ok"), ("confirm", "do", "ok")
        )
        s.reservations.append(
            ReservationRow(booking_id, facility, start, start + HOUR, "confirmed")
        )
        s.charges.append(ChargeRow(booking_id, "captured"))
        s.notifications.append(
            NotificationRow(f"n-{booking_id}", f"e-{booking_id}", "booking.confirmed", booking_id)
        )
    assert audit(s).passed


def test_a_charge_without_a_booking_and_a_double_charge_are_reported() -> None:
    s = healthy()
    s.charges += [ChargeRow("b-ghost", "captured"), ChargeRow("b-ok", "captured", "c2")]
    report = audit(s)
    findings = {(f.check, f.kind, f.subject) for f in report.violations}
    assert ("orphans", "unexpected", "b-ghost") in findings
    assert ("orphans", "duplicated", "b-ok") in findings
    assert ("confirmed", "duplicated", "b-ok") in findings


def test_a_voided_charge_without_a_booking_is_fine() -> None:
    # A refund that arrived before its charge voids the booking id at payments: no money moved.
    s = healthy()
    s.charges.append(ChargeRow("b-never", "voided"))
    assert audit(s).passed


def test_a_held_slot_without_a_booking_is_unexpected() -> None:
    s = healthy()
    s.reservations.append(ReservationRow("b-ghost", "f2", T0, T0 + HOUR, "held"))
    assert only_violation(audit(s))[:3] == ("orphans", "unexpected", "b-ghost")


@pytest.mark.parametrize(
    ("status", "steps", "problem"),
    [
        ("confirmed", [("reserve", "do", "ok"), ("charge", "do", "ok")], "confirm never succeeded"),
        (
            "confirmed",
            [("reserve", "do", "ok"), ("confirm", "do", "ok")],
            "confirm ran before charge",
        ),
        (
            "cancelled",
            [("reserve", "do", "ok"), ("charge", "do", "timeout"), ("reserve", "compensate", "ok")],
            "no refund",
        ),
        (
            "cancelled",
            [
                ("reserve", "do", "ok"),
                ("charge", "do", "ok"),
                ("reserve", "compensate", "ok"),
                ("charge", "compensate", "ok"),
            ],
            "expected ['charge', 'reserve']",
        ),
        (
            "cancelled",
            [("reserve", "do", "ok"), ("reserve", "compensate", "ok"), ("charge", "do", "ok")],
            "after compensation",
        ),
        (
            "rejected",
            [("reserve", "do", "ok"), ("charge", "do", "declined")],
            "should be cancelled",
        ),
        ("rejected", [("reserve", "do", "timeout")], "no release"),
    ],
)
def test_a_saga_log_that_is_not_steps_then_reverse_compensations_is_named(
    status: str, steps: list[tuple[str, str, str]], problem: str
) -> None:
    from harness.audit import check_saga_logs

    result = check_saga_logs([BookingRow("b", status)], _log("b", *steps))
    assert [f.kind for f in result.findings] == ["unexpected"]
    assert problem in result.findings[0].detail


@pytest.mark.parametrize(
    ("status", "steps"),
    [
        # ambiguous charge: refund (voids when never charged), then release
        (
            "cancelled",
            [
                ("reserve", "do", "ok"),
                ("charge", "do", "timeout"),
                ("charge", "compensate", "ok"),
                ("reserve", "compensate", "ok"),
            ],
        ),
        # a confirm that failed and was retried forward
        (
            "confirmed",
            [
                ("reserve", "do", "ok"),
                ("charge", "do", "ok"),
                ("confirm", "do", "unavailable"),
                ("confirm", "do", "ok"),
            ],
        ),
        # a customer's cancel of a confirmed booking, with a compensation retried after a failure
        (
            "cancelled",
            [
                ("reserve", "do", "ok"),
                ("charge", "do", "ok"),
                ("confirm", "do", "ok"),
                ("cancel", "do", "ok"),
                ("charge", "compensate", "unavailable"),
                ("charge", "compensate", "ok"),
                ("reserve", "compensate", "ok"),
            ],
        ),
    ],
)
def test_valid_saga_logs_pass(status: str, steps: list[tuple[str, str, str]]) -> None:
    from harness.audit import check_saga_logs

    assert check_saga_logs([BookingRow("b", status)], _log("b", *steps)).passed


def test_a_confirmed_booking_with_no_saga_log_is_lost() -> None:
    s = healthy()
    s.saga = [e for e in s.saga if e.booking_id != "b-ok"]
    assert only_violation(audit(s))[:3] == ("saga-log", "lost", "b-ok")


def test_an_unpublished_outbox_row_is_stuck() -> None:
    s = healthy()
    s.outbox.append(OutboxRow("bookings", "e-late", "booking.confirmed", False))
    assert only_violation(audit(s))[:3] == ("outbox", "stuck", "e-late")


def test_a_booking_never_notified_is_lost_and_one_notified_twice_is_duplicated() -> None:
    s = healthy()
    s.notifications = [n for n in s.notifications if n.booking_id != "b-ok"]
    s.notifications.append(NotificationRow("n2b", "e2", "booking.cancelled", "b-declined"))
    report = audit(s)
    check = report.check("notifications")
    assert check.ids("lost") == ["b-ok"]
    assert check.ids("duplicated") == ["b-declined"]
    assert report.counts()["lost"] == 1 and report.counts()["duplicated"] == 1


def test_a_published_user_event_never_notified_is_lost() -> None:
    s = healthy()
    s.notifications = [n for n in s.notifications if n.event_type != "user.created"]
    assert only_violation(audit(s))[:3] == ("deliveries", "lost", "e-user")


def test_dead_letters_are_reported_without_failing_the_audit() -> None:
    s = healthy()
    s.dead_letters.append(
        DeadLetter("fl_x.notifications.dlq", "m1", "booking.confirmed", "rejected")
    )
    report = audit(s)
    assert report.passed
    assert (
        "dead letter in fl_x.notifications.dlq: m1 (booking.confirmed, rejected)"
        in report.explain()
    )
    assert report.to_dict()["dead_letters"][0]["message_id"] == "m1"


def test_the_report_lists_ids_per_kind_like_a_set_checker() -> None:
    s = healthy()
    s.bookings += [BookingRow("p1", "pending"), BookingRow("p2", "pending")]
    data = audit(s).to_dict()
    terminal = next(c for c in data["checks"] if c["name"] == "terminal")
    assert terminal["ok"] == 3
    assert terminal["stuck"] == ["p1", "p2"]
    assert data["passed"] is False and data["counts"]["stuck"] == 2
