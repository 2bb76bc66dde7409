"""The audit: after a chaos, load or game-day run, is anything lost, duplicated or stuck?

Two halves. The checkers are pure: they take rows (bookings, saga log, reservations, charges,
outbox, notifications, dead letters) and report, like Jepsen's set checkers, how many subjects
were fine and which ids were lost, duplicated, stuck or unexpected. The readers load those rows
from each service's own database and from the broker, once the suite has gone quiet.

The checkers restate the suite's invariants independently of the suite's own code on purpose:
an audit that reused the saga's state machine would agree with any bug in it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from harness.aio import run_sync

from .checks import (
    audit,
    check_compensated,
    check_confirmed,
    check_deliveries,
    check_notifications,
    check_orphans,
    check_outbox,
    check_quiet,
    check_saga_logs,
    check_slots,
    check_terminal,
)
from .quiet import QUIET_TIMEOUT_S, Activity, activity, wait_quiet
from .readers import Sources, read_dead_letters, read_snapshot
from .report import KINDS, AuditReport, CheckResult, Finding, Kind
from .rows import (
    BookingRow,
    ChargeRow,
    DeadLetter,
    NotificationRow,
    OutboxRow,
    ReservationRow,
    SagaEntry,
    Snapshot,
)

if TYPE_CHECKING:
    from harness.stack import Stack

__all__ = [
    "KINDS",
    "QUIET_TIMEOUT_S",
    "Activity",
    "AuditReport",
    "BookingRow",
    "ChargeRow",
    "CheckResult",
    "DeadLetter",
    "Finding",
    "Kind",
    "NotificationRow",
    "OutboxRow",
    "ReservationRow",
    "SagaEntry",
    "Snapshot",
    "Sources",
    "activity",
    "activity_stack",
    "audit",
    "audit_stack",
    "check_compensated",
    "check_confirmed",
    "check_deliveries",
    "check_notifications",
    "check_orphans",
    "check_outbox",
    "check_quiet",
    "check_saga_logs",
    "check_slots",
    "check_terminal",
    "read_dead_letters",
    "read_snapshot",
    "run_audit",
    "snapshot_stack",
    "wait_quiet",
    "wait_quiet_stack",
]


async def run_audit(
    sources: Sources, *, deadline_s: float = QUIET_TIMEOUT_S, wait: bool = True
) -> AuditReport:
    """Wait for quiet (up to `deadline_s`), then read everything and check every invariant.

    Not quiet by the deadline: the report says so and names what was still moving.
    `wait=False` checks the rows as they are (a baseline taken before an experiment).
    """
    if not wait:
        return audit(await read_snapshot(sources))
    quiet, last = await wait_quiet(sources, deadline_s)
    return audit(await read_snapshot(sources), quiet=quiet, moving=last.moving())


def audit_stack(
    stack: Stack, *, timeout: float = QUIET_TIMEOUT_S, wait: bool = True
) -> AuditReport:
    """Synchronous entry point for tests, experiments and the CLI."""
    return run_sync(run_audit(Sources.from_stack(stack), deadline_s=timeout, wait=wait))


def wait_quiet_stack(stack: Stack, *, timeout: float = QUIET_TIMEOUT_S) -> bool:
    """Block until the stack is quiet (see `wait_quiet`); False when the deadline passed."""

    async def go() -> bool:
        quiet, _ = await wait_quiet(Sources.from_stack(stack), timeout)
        return quiet

    return run_sync(go())


def activity_stack(stack: Stack) -> Activity:
    """One look at what is still moving in the stack (see `Activity.moving`)."""
    return run_sync(activity(Sources.from_stack(stack)))


def snapshot_stack(stack: Stack, *, timeout: float = QUIET_TIMEOUT_S) -> Snapshot:
    """Wait for quiet, then the raw rows (an experiment narrows them with `only`)."""

    async def go() -> Snapshot:
        sources = Sources.from_stack(stack)
        await wait_quiet(sources, timeout)
        return await read_snapshot(sources)

    return run_sync(go())
