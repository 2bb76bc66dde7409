"""The booking saga's decisions, driven against an in-memory fake of facilities and payments."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from system_under_test.bookings.domain import (
    CANCEL_REQUEST,
    Action,
    Booking,
    BookingStatus,
    Call,
    CannotCancel,
    EntryStatus,
    Finish,
    InvalidBooking,
    LogEntry,
    Outcome,
    Reason,
    Step,
    backoff_s,
    decide,
)

pytestmark = pytest.mark.unit

RESERVE = (Step.RESERVE, Action.DO)
CHARGE = (Step.CHARGE, Action.DO)
CONFIRM = (Step.CONFIRM, Action.DO)
RELEASE = (Step.RESERVE, Action.COMPENSATE)
REFUND = (Step.CHARGE, Action.COMPENSATE)

# A fault that lets the call take effect downstream but loses the answer.
LATE_TIMEOUT = "late_timeout"


@dataclass
class World:
    """Facilities and payments as far as one booking is concerned, with scripted faults."""

    slot_taken: bool = False
    facility_known: bool = True
    declines: bool = False
    faults: dict[tuple[Step, Action], list[Outcome | str]] = field(default_factory=dict)
    reservation: str | None = None  # held | confirmed | released
    charge: str | None = None  # captured | refunded | voided
    calls: list[tuple[Step, Action]] = field(default_factory=list)

    def call(self, step: Step, action: Action) -> Outcome:
        self.calls.append((step, action))
        queue = self.faults.get((step, action), [])
        fault = queue.pop(0) if queue else None
        if isinstance(fault, Outcome):
            return fault
        outcome = self._apply(step, action)
        return Outcome.TIMEOUT if fault == LATE_TIMEOUT else outcome

    def _apply(self, step: Step, action: Action) -> Outcome:
        match (step, action):
            case (Step.RESERVE, Action.DO):
                if not self.facility_known:
                    return Outcome.NOT_FOUND
                if self.slot_taken:
                    return Outcome.CONFLICT
                if self.reservation is None:
                    self.reservation = "held"
            case (Step.CHARGE, Action.DO):
                if self.declines:
                    return Outcome.DECLINED
                if self.charge in ("refunded", "voided"):
                    return Outcome.CONFLICT
                self.charge = "captured"
            case (Step.CONFIRM, Action.DO):
                if self.reservation not in ("held", "confirmed"):
                    return Outcome.CONFLICT
                self.reservation = "confirmed"
            case (Step.RESERVE, Action.COMPENSATE):
                if self.reservation is not None:
                    self.reservation = "released"
            case (Step.CHARGE, Action.COMPENSATE):
                if self.charge in (None, "captured"):
                    self.charge = "refunded" if self.charge else "voided"
        return Outcome.OK

    def consistent_with(self, finish: Finish) -> bool:
        if finish.status is BookingStatus.CONFIRMED:
            return self.reservation == "confirmed" and self.charge == "captured"
        return self.reservation in (None, "released") and self.charge in (
            None,
            "refunded",
            "voided",
        )


def finished(step: Step, action: Action, outcome: Outcome) -> LogEntry:
    status = EntryStatus.SUCCEEDED if outcome is Outcome.OK else EntryStatus.FAILED
    return LogEntry(step, action, status, outcome.value)


def run(
    world: World,
    log: list[LogEntry] | None = None,
    *,
    compensation: bool = True,
    crash_after: int | None = None,
    crash_mid_call: bool = False,
) -> tuple[Finish | None, list[LogEntry]]:
    """Drive the saga as the service does: log `started`, call, log the outcome.

    `crash_after=n` stops once the log holds n entries; with `crash_mid_call` the call that
    was just logged as started still reaches the downstream, but its answer is lost.
    """
    log = list(log or [])
    for _ in range(100):
        decision = decide(log, compensation=compensation)
        if isinstance(decision, Finish):
            return decision, log
        log.append(LogEntry(decision.step, decision.action, EntryStatus.STARTED))
        if crash_after is not None and len(log) >= crash_after:
            if crash_mid_call:
                world.call(decision.step, decision.action)
            return None, log
        outcome = world.call(decision.step, decision.action)
        log.append(finished(decision.step, decision.action, outcome))
        if crash_after is not None and len(log) >= crash_after:
            return None, log
    raise AssertionError("saga did not terminate")


def test_happy_path_confirms_after_reserve_charge_confirm() -> None:
    world = World()
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.CONFIRMED)
    assert world.calls == [RESERVE, CHARGE, CONFIRM]
    assert world.consistent_with(finish)


def test_slot_conflict_rejects_without_touching_payments() -> None:
    world = World(slot_taken=True)
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.REJECTED, Reason.SLOT_UNAVAILABLE)
    assert world.calls == [RESERVE]


def test_unknown_facility_rejects() -> None:
    world = World(facility_known=False)
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.REJECTED, Reason.FACILITY_NOT_FOUND)
    assert world.calls == [RESERVE]


def test_facilities_unavailable_at_reserve_releases_then_rejects() -> None:
    world = World(faults={RESERVE: [LATE_TIMEOUT]})
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.REJECTED, Reason.FACILITIES_UNAVAILABLE)
    assert world.calls == [RESERVE, RELEASE]
    assert world.reservation == "released"


def test_decline_releases_the_slot_then_cancels() -> None:
    world = World(declines=True)
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.CANCELLED, Reason.PAYMENT_DECLINED)
    assert world.calls == [RESERVE, CHARGE, RELEASE]
    assert world.reservation == "released" and world.charge is None


def test_charge_voided_by_an_earlier_refund_counts_as_declined() -> None:
    world = World(charge="voided")
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.CANCELLED, Reason.PAYMENT_DECLINED)
    assert world.calls == [RESERVE, CHARGE, RELEASE]


@pytest.mark.parametrize("fault", [LATE_TIMEOUT, Outcome.TIMEOUT, Outcome.UNAVAILABLE])
def test_ambiguous_charge_refunds_first_then_releases(fault: Outcome | str) -> None:
    world = World(faults={CHARGE: [fault]})
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.CANCELLED, Reason.PAYMENT_UNAVAILABLE)
    assert world.calls == [RESERVE, CHARGE, REFUND, RELEASE]
    # A charge that went through is refunded; one that never arrived is voided.
    assert world.charge == ("refunded" if fault == LATE_TIMEOUT else "voided")
    assert world.reservation == "released"


def test_failing_confirm_is_retried_forward_never_compensated() -> None:
    world = World(faults={CONFIRM: [Outcome.UNAVAILABLE, Outcome.TIMEOUT, Outcome.CONFLICT]})
    finish, log = run(world)
    assert finish == Finish(BookingStatus.CONFIRMED)
    assert world.calls == [RESERVE, CHARGE, CONFIRM, CONFIRM, CONFIRM, CONFIRM]
    assert all(entry.action is Action.DO for entry in log)


def test_repeated_calls_count_attempts_for_backoff() -> None:
    log = [
        finished(Step.RESERVE, Action.DO, Outcome.OK),
        finished(Step.CHARGE, Action.DO, Outcome.OK),
        LogEntry(Step.CONFIRM, Action.DO, EntryStatus.STARTED),
        finished(Step.CONFIRM, Action.DO, Outcome.UNAVAILABLE),
        LogEntry(Step.CONFIRM, Action.DO, EntryStatus.STARTED),
        finished(Step.CONFIRM, Action.DO, Outcome.UNAVAILABLE),
    ]
    assert decide(log) == Call(Step.CONFIRM, Action.DO, attempt=3)
    # Crashed during the third attempt: the same call again, still the third attempt.
    log.append(LogEntry(Step.CONFIRM, Action.DO, EntryStatus.STARTED))
    assert decide(log) == Call(Step.CONFIRM, Action.DO, attempt=3)


def test_compensations_are_retried_until_they_succeed() -> None:
    world = World(
        faults={
            CHARGE: [Outcome.TIMEOUT],
            REFUND: [Outcome.UNAVAILABLE] * 3,
            RELEASE: [Outcome.TIMEOUT],
        }
    )
    finish, _ = run(world)
    assert finish == Finish(BookingStatus.CANCELLED, Reason.PAYMENT_UNAVAILABLE)
    assert world.calls == [RESERVE, CHARGE, REFUND, REFUND, REFUND, REFUND, RELEASE, RELEASE]
    assert world.consistent_with(finish)


def test_cancel_of_confirmed_booking_refunds_then_releases() -> None:
    world = World()
    confirmed, log = run(world)
    assert confirmed == Finish(BookingStatus.CONFIRMED)
    finish, _ = run(world, [*log, CANCEL_REQUEST])
    assert finish == Finish(BookingStatus.CANCELLED, Reason.CANCELLED_BY_CUSTOMER)
    assert world.calls[3:] == [REFUND, RELEASE]
    assert world.charge == "refunded" and world.reservation == "released"


def test_cancel_still_refunds_and_releases_with_compensation_switched_off() -> None:
    world = World()
    _, log = run(world, compensation=False)
    finish, _ = run(world, [*log, CANCEL_REQUEST], compensation=False)
    assert finish == Finish(BookingStatus.CANCELLED, Reason.CANCELLED_BY_CUSTOMER)
    assert world.calls[3:] == [REFUND, RELEASE]


def test_compensation_switched_off_leaves_the_slot_held_after_a_decline() -> None:
    world = World(declines=True)
    finish, _ = run(world, compensation=False)
    assert finish == Finish(BookingStatus.CANCELLED, Reason.PAYMENT_DECLINED)
    assert world.calls == [RESERVE, CHARGE]
    assert world.reservation == "held"  # the deliberate defect the chaos layer must catch
    assert not world.consistent_with(finish)


def test_compensation_switched_off_leaves_a_late_charge_captured() -> None:
    world = World(faults={CHARGE: [LATE_TIMEOUT]})
    finish, _ = run(world, compensation=False)
    assert finish == Finish(BookingStatus.CANCELLED, Reason.PAYMENT_UNAVAILABLE)
    assert world.calls == [RESERVE, CHARGE]
    assert world.charge == "captured" and world.reservation == "held"


def test_terminal_log_keeps_answering_the_same_finish() -> None:
    _, log = run(World(declines=True))
    assert decide(log) == Finish(BookingStatus.CANCELLED, Reason.PAYMENT_DECLINED)
    assert decide(log) == decide(list(log))


def test_empty_log_starts_with_reserve() -> None:
    assert decide([]) == Call(Step.RESERVE, Action.DO, attempt=1)


SCENARIOS = {
    "confirmed": lambda: World(),
    "conflict": lambda: World(slot_taken=True),
    "declined": lambda: World(declines=True),
    "charge_timeout": lambda: World(faults={CHARGE: [LATE_TIMEOUT]}),
    "charge_unavailable": lambda: World(faults={CHARGE: [Outcome.UNAVAILABLE]}),
    "reserve_unavailable": lambda: World(faults={RESERVE: [Outcome.UNAVAILABLE]}),
    "confirm_flaky": lambda: World(faults={CONFIRM: [Outcome.TIMEOUT, Outcome.UNAVAILABLE]}),
    "refund_flaky": lambda: World(faults={CHARGE: [LATE_TIMEOUT], REFUND: [Outcome.TIMEOUT]}),
}


def _crash_points(name: str) -> list[int]:
    _, full = run(SCENARIOS[name]())
    return list(range(1, len(full) + 1))


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_resuming_from_every_partial_log_reaches_the_same_end(name: str) -> None:
    expected, _ = run(SCENARIOS[name]())
    for crash_after in _crash_points(name):
        world = SCENARIOS[name]()
        finish, partial = run(world, crash_after=crash_after)
        assert finish is None or finish == expected
        # A new process knows only the persisted log.
        resumed, _ = run(world, partial)
        assert resumed == expected, f"crash after {crash_after} entries"
        assert world.consistent_with(resumed)


@pytest.mark.parametrize("name", sorted(SCENARIOS))
def test_resuming_after_a_call_whose_answer_was_lost_stays_consistent(name: str) -> None:
    for crash_after in _crash_points(name):
        world = SCENARIOS[name]()
        finish, partial = run(world, crash_after=crash_after, crash_mid_call=True)
        if finish is not None:
            continue
        resumed, _ = run(world, partial)
        # The repeated call may now succeed where it first failed, so the end can differ,
        # but the downstream state always matches it.
        assert resumed is not None and world.consistent_with(resumed)


def test_resuming_a_cancellation_from_every_partial_log() -> None:
    _, confirmed_log = run(World())
    start = [*confirmed_log, CANCEL_REQUEST]
    world = World()
    run(world)
    _, full = run(world, start)
    for crash_after in range(len(start) + 1, len(full) + 1):
        world = World()
        run(world)
        _, partial = run(world, start, crash_after=crash_after, crash_mid_call=True)
        resumed, _ = run(world, partial)
        assert resumed == Finish(BookingStatus.CANCELLED, Reason.CANCELLED_BY_CUSTOMER)
        assert world.charge == "refunded" and world.reservation == "released"


def test_outcomes_that_may_have_taken_effect_are_ambiguous() -> None:
    assert {o for o in Outcome if o.ambiguous} == {Outcome.TIMEOUT, Outcome.UNAVAILABLE}


def test_backoff_doubles_from_the_second_attempt_and_is_capped() -> None:
    assert backoff_s(1, 0.1) == 0
    assert backoff_s(2, 0.1) == pytest.approx(0.1)
    assert backoff_s(3, 0.1) == pytest.approx(0.2)
    assert backoff_s(30, 0.1, cap_s=2.0) == 2.0


def _booking(**overrides: object) -> Booking:
    start = datetime(2026, 12, 1, 10, tzinfo=UTC)
    fields: dict[str, object] = {
        "user_id": uuid.uuid4(),
        "facility_id": uuid.uuid4(),
        "starts_at": start,
        "ends_at": start + timedelta(hours=1),
        "amount_cents": 5000,
        "payment_method": "pm_card_visa",
    }
    fields.update(overrides)
    return Booking.create(**fields)  # type: ignore[arg-type]


def test_new_booking_is_pending_without_reason() -> None:
    booking = _booking()
    assert booking.status is BookingStatus.PENDING and booking.reason is None
    assert not booking.terminal


@pytest.mark.parametrize(
    "overrides",
    [
        {"amount_cents": 0},
        {"amount_cents": -5},
        {"ends_at": datetime(2026, 12, 1, 10, tzinfo=UTC)},
        {"ends_at": datetime(2026, 12, 1, 9, tzinfo=UTC)},
        {"starts_at": datetime(2026, 12, 1, 10)},
        {"payment_method": "  "},
    ],
)
def test_invalid_bookings_are_refused(overrides: dict[str, object]) -> None:
    with pytest.raises(InvalidBooking):
        _booking(**overrides)


def test_only_a_confirmed_booking_starts_a_cancellation() -> None:
    booking = _booking()
    assert booking.finished(BookingStatus.CONFIRMED, None).check_cancellable() is True
    assert booking.finished(BookingStatus.CANCELLED, "x").check_cancellable() is False
    for status in (BookingStatus.PENDING, BookingStatus.REJECTED):
        with pytest.raises(CannotCancel):
            booking.finished(status, None).check_cancellable()
