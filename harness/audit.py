"""The audit: after a chaos, load or game-day run, is anything lost, duplicated or stuck?

Two halves. The checkers are pure: they take rows (bookings, saga log, reservations, charges,
outbox, notifications, dead letters) and report, like Jepsen's set checkers, how many subjects
were fine and which ids were lost, duplicated, stuck or unexpected. The readers load those rows
from each service's own database and from the broker, once the suite has gone quiet.

The checkers restate the suite's invariants independently of the suite's own code on purpose:
an audit that reused the saga's state machine would agree with any bug in it.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections import Counter, defaultdict
from collections.abc import Coroutine, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal, TypeVar

import aio_pika
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness.errors import UserError

if TYPE_CHECKING:
    from harness.stack import Stack

Kind = Literal["lost", "duplicated", "stuck", "unexpected"]
KINDS: tuple[Kind, ...] = ("lost", "duplicated", "stuck", "unexpected")

TERMINAL = frozenset({"confirmed", "rejected", "cancelled"})
OCCUPYING = frozenset({"held", "confirmed"})  # reservation states that occupy a slot
FORWARD = ("reserve", "charge", "confirm")
COMPENSABLE = ("reserve", "charge")  # confirm follows the pivot and is never undone
AMBIGUOUS = frozenset({"unavailable", "timeout"})  # the call may have taken effect


# --------------------------------------------------------------------------------------------
# Rows, as the readers normalise them (plain strings: the audit does not trust the suite's types)


@dataclass(frozen=True)
class BookingRow:
    id: str
    status: str
    reason: str | None = None
    facility_id: str | None = None
    user_id: str | None = None
    settled: bool = True  # False while the saga still has work left (e.g. a cancellation)


@dataclass(frozen=True)
class SagaEntry:
    booking_id: str
    seq: int
    step: str  # reserve | charge | confirm | cancel
    action: str  # do | compensate
    status: str  # started | succeeded | failed
    detail: str | None = None  # outcome of a finished call: ok, conflict, declined, timeout...


@dataclass(frozen=True)
class ReservationRow:
    booking_id: str
    facility_id: str | None  # None in a tombstone (a release that came before its reserve)
    starts_at: datetime | None
    ends_at: datetime | None
    status: str  # held | confirmed | released


@dataclass(frozen=True)
class ChargeRow:
    booking_id: str
    status: str  # captured | refunded | voided
    id: str = ""
    amount_cents: int = 0


@dataclass(frozen=True)
class OutboxRow:
    service: str
    event_id: str
    type: str
    published: bool
    booking_id: str | None = None


@dataclass(frozen=True)
class NotificationRow:
    id: str
    event_id: str
    event_type: str
    booking_id: str | None = None
    user_id: str | None = None


@dataclass(frozen=True)
class DeadLetter:
    queue: str
    message_id: str
    type: str | None = None
    reason: str | None = None
    booking_id: str | None = None


@dataclass
class Snapshot:
    """Everything the audit reads, at one moment after the suite went quiet."""

    bookings: list[BookingRow] = field(default_factory=list)
    saga: list[SagaEntry] = field(default_factory=list)
    reservations: list[ReservationRow] = field(default_factory=list)
    charges: list[ChargeRow] = field(default_factory=list)
    outbox: list[OutboxRow] = field(default_factory=list)
    notifications: list[NotificationRow] = field(default_factory=list)
    dead_letters: list[DeadLetter] = field(default_factory=list)

    def only(self, booking_ids: Iterable[str]) -> Snapshot:
        """The rows about these bookings: an experiment audits what it did, nothing else."""
        ids = set(booking_ids)
        return Snapshot(
            bookings=[b for b in self.bookings if b.id in ids],
            saga=[e for e in self.saga if e.booking_id in ids],
            reservations=[r for r in self.reservations if r.booking_id in ids],
            charges=[c for c in self.charges if c.booking_id in ids],
            outbox=[o for o in self.outbox if o.booking_id in ids],
            notifications=[n for n in self.notifications if n.booking_id in ids],
            dead_letters=[d for d in self.dead_letters if d.booking_id in ids],
        )


# --------------------------------------------------------------------------------------------
# Report


@dataclass(frozen=True)
class Finding:
    check: str
    kind: Kind
    subject: str  # the id a person looks up: booking, event, facility...
    detail: str

    def __str__(self) -> str:
        return f"{self.check}: {self.kind} {self.subject}: {self.detail}"


@dataclass
class CheckResult:
    name: str
    invariant: str
    ok: int = 0
    findings: list[Finding] = field(default_factory=list)

    def add(self, kind: Kind, subject: str, detail: str) -> None:
        self.findings.append(Finding(self.name, kind, subject, detail))

    def ids(self, kind: Kind) -> list[str]:
        return sorted({f.subject for f in self.findings if f.kind == kind})

    @property
    def passed(self) -> bool:
        return not self.findings


@dataclass
class AuditReport:
    checks: list[CheckResult]
    dead_letters: list[DeadLetter] = field(default_factory=list)
    quiet: bool = True  # False when the deadline passed before the suite went quiet

    @property
    def violations(self) -> list[Finding]:
        return [f for check in self.checks for f in check.findings]

    @property
    def passed(self) -> bool:
        return not self.violations

    def since(self, baseline: AuditReport) -> AuditReport:
        """Only the violations that were not already there in `baseline`."""
        old = {(f.check, f.kind, f.subject) for f in baseline.violations}
        checks = [
            CheckResult(
                c.name,
                c.invariant,
                c.ok,
                [f for f in c.findings if (f.check, f.kind, f.subject) not in old],
            )
            for c in self.checks
        ]
        known = {(d.queue, d.message_id) for d in baseline.dead_letters}
        fresh = [d for d in self.dead_letters if (d.queue, d.message_id) not in known]
        return AuditReport(checks, fresh, self.quiet)

    def check(self, name: str) -> CheckResult:
        return next(c for c in self.checks if c.name == name)

    def counts(self) -> dict[str, int]:
        """Jepsen-style totals: subjects found fine, and findings of each kind."""
        totals = {"ok": sum(c.ok for c in self.checks)}
        for kind in KINDS:
            totals[kind] = sum(1 for f in self.violations if f.kind == kind)
        return totals

    def summary(self) -> str:
        counts = self.counts()
        head = (
            "audit passed" if self.passed else f"audit FAILED ({len(self.violations)} violations)"
        )
        parts = ", ".join(f"{k} {v}" for k, v in counts.items())
        return f"{head}: {parts}; dead letters {len(self.dead_letters)}"

    def explain(self, limit: int = 20) -> str:
        """One line per violation (first `limit`), then the dead letters: what a person reads."""
        lines = [self.summary()]
        lines += [f"  {f}" for f in self.violations[:limit]]
        if len(self.violations) > limit:
            lines.append(f"  ... and {len(self.violations) - limit} more")
        lines += [
            f"  dead letter in {d.queue}: {d.message_id} ({d.type or 'unknown type'}"
            f"{', ' + d.reason if d.reason else ''})"
            for d in self.dead_letters
        ]
        return "\n".join(lines)

    def to_dict(self) -> dict[str, Any]:
        return {
            "passed": self.passed,
            "quiet": self.quiet,
            "counts": self.counts(),
            "checks": [
                {
                    "name": c.name,
                    "invariant": c.invariant,
                    "ok": c.ok,
                    **{kind: c.ids(kind) for kind in KINDS},
                    "findings": [asdict(f) for f in c.findings],
                }
                for c in self.checks
            ],
            "dead_letters": [asdict(d) for d in self.dead_letters],
        }


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


def audit(
    snapshot: Snapshot, consumed: Iterable[str] = CONSUMED, quiet: bool = True
) -> AuditReport:
    """Check every invariant on one snapshot."""
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
    return AuditReport(checks=checks, dead_letters=list(s.dead_letters), quiet=quiet)


# --------------------------------------------------------------------------------------------
# Readers: each service's own database (directly, never through a proxy) and the broker

QUIET_TIMEOUT_S = 30.0
_POLL_S = 0.2


@dataclass(frozen=True)
class Sources:
    """Where a run keeps its state: database URL per service, the broker and the namespace."""

    databases: Mapping[str, str]  # service -> postgresql+psycopg URL (direct)
    amqp_url: str
    namespace: str
    consumers: tuple[str, ...] = ("notifications",)

    @classmethod
    def from_stack(cls, stack: Stack) -> Sources:
        state = stack.state
        if state is None:
            raise UserError("the stack is not running: nothing to audit")
        dbs = {name: stack.database_url(name) for name, s in state.services.items() if s.database}
        return cls(dbs, state.rabbitmq_url, state.namespace, stack.topology.consumers())

    def queue(self, consumer: str) -> str:
        return f"{self.namespace}.{consumer}"

    def dlq(self, consumer: str) -> str:
        return f"{self.namespace}.{consumer}.dlq"


def _text(value: Any) -> str | None:
    return None if value is None else str(value)


# Plain SQL on purpose: the audit reads what is stored, not what the suite's code thinks it is.
_QUERIES: dict[str, dict[str, str]] = {
    "bookings": {
        "bookings": "SELECT id, status, reason, facility_id, user_id, settled FROM bookings",
        "saga": "SELECT booking_id, seq, step, action, status, detail FROM saga_log",
    },
    "facilities": {
        "reservations": (
            "SELECT booking_id, facility_id, starts_at, ends_at, status FROM reservations"
        ),
    },
    "payments": {"charges": "SELECT booking_id, status, id, amount_cents FROM charges"},
    "notifications": {
        "notifications": (
            "SELECT id, event_id, event_type, booking_id, user_id FROM notifications"
        ),
    },
}
_OUTBOX = (
    "SELECT event_id, type, published_at IS NOT NULL, payload->'data'->>'booking_id' FROM outbox"
)
_PENDING = "SELECT count(*) FROM bookings WHERE status = 'pending' OR NOT settled"
_BACKLOG = "SELECT count(*) FROM outbox WHERE published_at IS NULL"
_SENT = "SELECT count(*) FROM notifications"


class _Databases:
    """One engine per service database, for the duration of an audit."""

    def __init__(self, urls: Mapping[str, str]) -> None:
        self.engines = {
            name: create_async_engine(url, poolclass=NullPool, connect_args={"connect_timeout": 5})
            for name, url in urls.items()
        }

    async def rows(self, service: str, query: str) -> list[Any]:
        engine = self.engines.get(service)
        if engine is None:
            return []
        try:
            async with engine.connect() as conn:
                return list((await conn.execute(text(query))).all())
        except SQLAlchemyError as exc:
            reason = str(getattr(exc, "orig", exc)).strip().splitlines()[0]
            raise UserError(f"cannot read the {service} database: {reason}") from None

    async def has_table(self, service: str, table: str) -> bool:
        rows = await self.rows(service, f"SELECT to_regclass('{table}') IS NOT NULL")
        return bool(rows and rows[0][0])

    async def count(self, service: str, query: str) -> int:
        rows = await self.rows(service, query)
        return int(rows[0][0]) if rows else 0

    async def close(self) -> None:
        for engine in self.engines.values():
            await engine.dispose()


async def _read_outbox(dbs: _Databases) -> list[OutboxRow]:
    rows: list[OutboxRow] = []
    for service in dbs.engines:
        if await dbs.has_table(service, "outbox"):
            rows += [
                OutboxRow(service, str(r[0]), str(r[1]), bool(r[2]), _text(r[3]))
                for r in await dbs.rows(service, _OUTBOX)
            ]
    return rows


async def read_snapshot(sources: Sources) -> Snapshot:
    """Every row the checkers need, read directly from each database and the DLQs."""
    dbs = _Databases(sources.databases)
    try:
        q = _QUERIES
        snapshot = Snapshot(
            bookings=[
                BookingRow(str(r[0]), r[1], r[2], _text(r[3]), _text(r[4]), bool(r[5]))
                for r in await dbs.rows("bookings", q["bookings"]["bookings"])
            ],
            saga=[
                SagaEntry(str(r[0]), int(r[1]), r[2], r[3], r[4], r[5])
                for r in await dbs.rows("bookings", q["bookings"]["saga"])
            ],
            reservations=[
                ReservationRow(str(r[0]), _text(r[1]), r[2], r[3], r[4])
                for r in await dbs.rows("facilities", q["facilities"]["reservations"])
            ],
            charges=[
                ChargeRow(str(r[0]), r[1], str(r[2]), int(r[3] or 0))
                for r in await dbs.rows("payments", q["payments"]["charges"])
            ],
            outbox=await _read_outbox(dbs),
            notifications=[
                NotificationRow(str(r[0]), str(r[1]), r[2], _text(r[3]), _text(r[4]))
                for r in await dbs.rows("notifications", q["notifications"]["notifications"])
            ],
        )
    finally:
        await dbs.close()
    snapshot.dead_letters = await read_dead_letters(sources)
    return snapshot


async def _connect(amqp_url: str) -> aio_pika.abc.AbstractConnection:
    try:
        return await asyncio.wait_for(aio_pika.connect(amqp_url), 5.0)
    except Exception as exc:  # aiormq raises many unrelated types for "cannot connect"
        raise UserError(
            f"cannot reach RabbitMQ at {amqp_url}: {exc or type(exc).__name__}"
        ) from None


def _dead_letter(queue: str, message: aio_pika.abc.AbstractIncomingMessage) -> DeadLetter:
    headers = message.headers or {}
    body: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        parsed = json.loads(message.body)
        body = parsed if isinstance(parsed, dict) else {}
    data = body.get("data") if isinstance(body.get("data"), dict) else {}
    return DeadLetter(
        queue=queue,
        message_id=message.message_id or "(no message id)",
        type=message.type or _text(body.get("type")),
        reason=_text(headers.get("x-first-death-reason")),
        booking_id=_text(data.get("booking_id")),
    )


async def read_dead_letters(sources: Sources) -> list[DeadLetter]:
    """Every message in the run's dead-letter queues, left in place for people to inspect."""
    letters: list[DeadLetter] = []
    conn = await _connect(sources.amqp_url)
    async with conn:
        for consumer in sources.consumers:
            name = sources.dlq(consumer)
            channel = await conn.channel()
            try:
                queue = await channel.declare_queue(name, passive=True)
            except aio_pika.exceptions.ChannelClosed:
                continue  # never declared: nothing was dead-lettered
            # Fetched without acknowledging: closing the channel puts every message back.
            while (message := await queue.get(no_ack=False, fail=False)) is not None:
                letters.append(_dead_letter(name, message))
            await channel.close()
    return letters


async def _queue_backlog(sources: Sources) -> int:
    conn = await _connect(sources.amqp_url)
    total = 0
    async with conn:
        for consumer in sources.consumers:
            channel = await conn.channel()
            try:
                queue = await channel.declare_queue(sources.queue(consumer), passive=True)
            except aio_pika.exceptions.ChannelClosed:
                continue
            total += queue.declaration_result.message_count or 0
            await channel.close()
    return total


@dataclass(frozen=True)
class Activity:
    """What is still moving: sagas unfinished, events unpublished or unconsumed."""

    pending_bookings: int
    outbox_backlog: int
    queued_events: int
    notifications: int

    @property
    def idle(self) -> bool:
        return not (self.pending_bookings or self.outbox_backlog or self.queued_events)

    def describe(self) -> str:
        return (
            f"{self.pending_bookings} bookings unfinished, {self.outbox_backlog} events "
            f"unpublished, {self.queued_events} events not yet consumed"
        )


async def activity(sources: Sources) -> Activity:
    dbs = _Databases(sources.databases)
    try:
        pending = await dbs.count("bookings", _PENDING)
        backlog = 0
        for service in dbs.engines:
            if await dbs.has_table(service, "outbox"):
                backlog += await dbs.count(service, _BACKLOG)
        sent = await dbs.count("notifications", _SENT)
    finally:
        await dbs.close()
    return Activity(pending, backlog, await _queue_backlog(sources), sent)


async def wait_quiet(
    sources: Sources, deadline_s: float = QUIET_TIMEOUT_S
) -> tuple[bool, Activity]:
    """Poll until no saga runs, the outboxes are drained and consumers have caught up.

    Quiet also means the notification count held still between two polls, since an event
    being handled has left the queue but not yet reached the table.
    """
    deadline = time.monotonic() + deadline_s
    previous: Activity | None = None
    while True:
        now = await activity(sources)
        if now.idle and previous is not None and previous.notifications == now.notifications:
            return True, now
        if time.monotonic() >= deadline:
            return False, now
        previous = now if now.idle else None
        await asyncio.sleep(_POLL_S)


async def run_audit(
    sources: Sources, *, deadline_s: float = QUIET_TIMEOUT_S, wait: bool = True
) -> AuditReport:
    """Wait for quiet (up to `deadline_s`), then read everything and check every invariant."""
    quiet = True
    if wait:
        quiet, _ = await wait_quiet(sources, deadline_s)
    report = audit(await read_snapshot(sources), quiet=quiet)
    return report


def audit_stack(
    stack: Stack, *, timeout: float = QUIET_TIMEOUT_S, wait: bool = True
) -> AuditReport:
    """Synchronous entry point for tests, experiments and the CLI."""
    return _run_sync(run_audit(Sources.from_stack(stack), deadline_s=timeout, wait=wait))


def wait_quiet_stack(stack: Stack, *, timeout: float = QUIET_TIMEOUT_S) -> bool:
    """Block until the stack is quiet (see `wait_quiet`); False when the deadline passed."""

    async def go() -> bool:
        quiet, _ = await wait_quiet(Sources.from_stack(stack), timeout)
        return quiet

    return _run_sync(go())


def snapshot_stack(stack: Stack, *, timeout: float = QUIET_TIMEOUT_S) -> Snapshot:
    """Wait for quiet, then the raw rows (an experiment narrows them with `only`)."""

    async def go() -> Snapshot:
        sources = Sources.from_stack(stack)
        await wait_quiet(sources, timeout)
        return await read_snapshot(sources)

    return _run_sync(go())


def _run_sync(coro: Coroutine[Any, Any, T]) -> T:
    try:
        asyncio.get_running_loop()
    except RuntimeError:
        return asyncio.run(coro)
    # Called from inside an event loop (an async test): run in a thread with its own loop.
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()
