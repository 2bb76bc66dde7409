"""Bookings and the booking saga as a pure state machine (no framework or I/O imports).

The saga log is the single source of truth: `decide(log)` folds it into the saga's state and
answers what must happen next, so a process that restarts from any partial log resumes
exactly where the last one stopped.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from enum import StrEnum


class BookingStatus(StrEnum):
    PENDING = "pending"
    CONFIRMED = "confirmed"
    REJECTED = "rejected"
    CANCELLED = "cancelled"


class Step(StrEnum):
    RESERVE = "reserve"
    CHARGE = "charge"  # the pivot: once it succeeded the saga only moves forward
    CONFIRM = "confirm"
    # Not a downstream call: the customer's request to cancel a confirmed booking, logged so
    # the refund and release that follow survive a restart.
    CANCEL = "cancel"


FORWARD_STEPS: tuple[Step, ...] = (Step.RESERVE, Step.CHARGE, Step.CONFIRM)
# Steps that can be undone; confirm follows the pivot and is never compensated.
COMPENSABLE: frozenset[Step] = frozenset({Step.RESERVE, Step.CHARGE})


class Action(StrEnum):
    DO = "do"
    COMPENSATE = "compensate"  # reserve -> release, charge -> refund


class EntryStatus(StrEnum):
    STARTED = "started"
    SUCCEEDED = "succeeded"
    FAILED = "failed"


class Outcome(StrEnum):
    OK = "ok"
    CONFLICT = "conflict"
    DECLINED = "declined"
    NOT_FOUND = "not_found"
    UNAVAILABLE = "unavailable"
    TIMEOUT = "timeout"

    @property
    def ambiguous(self) -> bool:
        """The call may or may not have taken effect downstream."""
        return self in (Outcome.UNAVAILABLE, Outcome.TIMEOUT)


class Reason(StrEnum):
    SLOT_UNAVAILABLE = "slot_unavailable"
    FACILITY_NOT_FOUND = "facility_not_found"
    FACILITIES_UNAVAILABLE = "facilities_unavailable"
    PAYMENT_DECLINED = "payment_declined"
    PAYMENT_UNAVAILABLE = "payment_unavailable"
    CANCELLED_BY_CUSTOMER = "cancelled_by_customer"


TERMINAL = frozenset({BookingStatus.CONFIRMED, BookingStatus.REJECTED, BookingStatus.CANCELLED})


class InvalidBooking(ValueError):
    """The booking request breaks a rule (amount, time range, payment method)."""


class CannotCancel(Exception):
    """Only a confirmed booking can be cancelled."""


@dataclass(frozen=True)
class Booking:
    id: uuid.UUID
    user_id: uuid.UUID
    facility_id: uuid.UUID
    starts_at: datetime
    ends_at: datetime
    amount_cents: int
    payment_method: str
    status: BookingStatus = BookingStatus.PENDING
    reason: str | None = None

    @classmethod
    def create(
        cls,
        *,
        user_id: uuid.UUID,
        facility_id: uuid.UUID,
        starts_at: datetime,
        ends_at: datetime,
        amount_cents: int,
        payment_method: str,
        id: uuid.UUID | None = None,
    ) -> Booking:
        if amount_cents <= 0:
            raise InvalidBooking("amount_cents must be positive")
        if starts_at.tzinfo is None or ends_at.tzinfo is None:
            raise InvalidBooking("starts_at and ends_at must carry a timezone")
        if ends_at <= starts_at:
            raise InvalidBooking("ends_at must be after starts_at")
        if not payment_method.strip():
            raise InvalidBooking("payment_method must not be empty")
        return cls(
            id=id or uuid.uuid4(),
            user_id=user_id,
            facility_id=facility_id,
            starts_at=starts_at,
            ends_at=ends_at,
            amount_cents=amount_cents,
            payment_method=payment_method,
        )

    def fingerprint(self) -> str:
        """Digest of what the customer asked for: a reused idempotency key must match it."""
        request = {
            "user_id": str(self.user_id),
            "facility_id": str(self.facility_id),
            "starts_at": self.starts_at.timestamp(),
            "ends_at": self.ends_at.timestamp(),
            "amount_cents": self.amount_cents,
            "payment_method": self.payment_method,
        }
        return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()

    @property
    def terminal(self) -> bool:
        return self.status in TERMINAL

    def finished(self, status: BookingStatus, reason: str | None) -> Booking:
        return replace(self, status=status, reason=reason)

    def check_cancellable(self) -> bool:
        """True when a cancellation must start, False when it already happened."""
        if self.status is BookingStatus.CANCELLED:
            return False
        if self.status is not BookingStatus.CONFIRMED:
            raise CannotCancel(f"a {self.status} booking cannot be cancelled")
        return True


@dataclass(frozen=True)
class LogEntry:
    step: Step
    action: Action
    status: EntryStatus
    detail: str | None = None  # the Outcome of a finished call
    at: datetime | None = field(default=None, compare=False)

    @property
    def outcome(self) -> Outcome | None:
        if self.status is EntryStatus.STARTED or self.detail is None:
            return None
        try:
            return Outcome(self.detail)
        except ValueError:
            return None


CANCEL_REQUEST = LogEntry(Step.CANCEL, Action.DO, EntryStatus.SUCCEEDED, "requested")


@dataclass(frozen=True)
class Call:
    """Call a downstream step; `attempt` > 1 repeats a call that failed (back off first)."""

    step: Step
    action: Action
    attempt: int = 1

    @property
    def is_compensation(self) -> bool:
        return self.action is Action.COMPENSATE


@dataclass(frozen=True)
class Finish:
    status: BookingStatus
    reason: str | None = None


Decision = Call | Finish


@dataclass
class _State:
    forward: dict[Step, Outcome]
    compensated: set[Step]
    cancel_requested: bool


def _fold(log: Sequence[LogEntry]) -> _State:
    state = _State(forward={}, compensated=set(), cancel_requested=False)
    for entry in log:
        if entry.step is Step.CANCEL:
            state.cancel_requested = True
            continue
        outcome = entry.outcome
        if outcome is None:
            continue
        if entry.action is Action.DO:
            state.forward[entry.step] = outcome
        elif outcome is Outcome.OK:
            state.compensated.add(entry.step)
    return state


def _attempt(log: Sequence[LogEntry], step: Step, action: Action) -> int:
    """1 + how many times this call has just failed in a row (the backoff exponent)."""
    failures = 0
    for entry in reversed(log):
        if (entry.step, entry.action) != (step, action):
            break
        if entry.status is EntryStatus.FAILED:
            failures += 1
    return failures + 1


def _call(log: Sequence[LogEntry], step: Step, action: Action) -> Call:
    return Call(step, action, _attempt(log, step, action))


def _failure(state: _State) -> Finish | None:
    """The terminal status a failed forward step leads to, or None while nothing failed."""
    reserve = state.forward.get(Step.RESERVE)
    if reserve is Outcome.CONFLICT:
        return Finish(BookingStatus.REJECTED, Reason.SLOT_UNAVAILABLE)
    if reserve is Outcome.NOT_FOUND:
        return Finish(BookingStatus.REJECTED, Reason.FACILITY_NOT_FOUND)
    if reserve is not None and reserve.ambiguous:
        return Finish(BookingStatus.REJECTED, Reason.FACILITIES_UNAVAILABLE)
    charge = state.forward.get(Step.CHARGE)
    if charge is not None and charge.ambiguous:
        return Finish(BookingStatus.CANCELLED, Reason.PAYMENT_UNAVAILABLE)
    if charge not in (None, Outcome.OK):
        return Finish(BookingStatus.CANCELLED, Reason.PAYMENT_DECLINED)
    return None


def _needs_undo(outcome: Outcome | None) -> bool:
    # An ambiguous call may have taken effect; undoing is idempotent downstream either way
    # (a refund of a never-made charge voids it, a release of a missing reservation is a no-op).
    return outcome is not None and (outcome is Outcome.OK or outcome.ambiguous)


def _compensate(log: Sequence[LogEntry], state: _State, finish: Finish) -> Decision:
    # Undo in reverse order of the forward steps: the refund always precedes the release.
    for step in reversed(FORWARD_STEPS):
        undo = step in COMPENSABLE and _needs_undo(state.forward.get(step))
        if undo and step not in state.compensated:
            return _call(log, step, Action.COMPENSATE)
    return finish


def decide(log: Sequence[LogEntry], *, compensation: bool = True) -> Decision:
    """The next thing the saga must do, given everything logged so far.

    `compensation=False` deliberately breaks the saga (a failed step is not undone) so that
    chaos experiments can prove they notice.
    """
    if log and log[-1].status is EntryStatus.STARTED and log[-1].step is not Step.CANCEL:
        # Crashed (or still unsure) mid-call: every call is idempotent by booking id, so the
        # same call is simply made again.
        last = log[-1]
        return Call(last.step, last.action, _attempt(log[:-1], last.step, last.action))
    state = _fold(log)
    if state.cancel_requested:
        return _compensate(
            log, state, Finish(BookingStatus.CANCELLED, Reason.CANCELLED_BY_CUSTOMER)
        )
    failure = _failure(state)
    if failure is not None:
        return _compensate(log, state, failure) if compensation else failure
    for step in FORWARD_STEPS:
        if state.forward.get(step) is not Outcome.OK:
            # Past the pivot a failing confirm is retried forward, never compensated.
            return _call(log, step, Action.DO)
    return Finish(BookingStatus.CONFIRMED)


def backoff_s(attempt: int, first_s: float, cap_s: float = 5.0) -> float:
    """Upper bound of the wait before a repeated call (doubling; the caller adds jitter)."""
    if attempt <= 1:
        return 0.0
    return min(cap_s, first_s * 2 ** (attempt - 2))
