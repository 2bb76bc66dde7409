"""Readers: each service's own database (directly, never through a proxy) and the broker."""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aio_pika
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from harness import infra
from harness.errors import UserError

if TYPE_CHECKING:
    from harness.stack import Stack
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

# --------------------------------------------------------------------------------------------
# Readers: each service's own database (directly, never through a proxy) and the broker

MANAGEMENT_ENV = "FAULTLINE_RABBITMQ_MANAGEMENT_URL"
# The reason a consumer gives when it dead-letters an event itself (the broker's own
# `x-first-death-reason` says only "rejected" or "expired").
DEAD_REASON_HEADER = "x-faultline-dead-reason"


@dataclass(frozen=True)
class Sources:
    """Where a run keeps its state: database URL per service, the broker and the namespace,
    and each consumer service's base URL (its /metrics shows the events it is handling)."""

    databases: Mapping[str, str]  # service -> postgresql+psycopg URL (direct)
    amqp_url: str
    namespace: str
    consumers: tuple[str, ...] = ("notifications",)
    metrics: Mapping[str, str] = field(default_factory=dict)  # consumer -> base URL
    # RabbitMQ's management API (http://user:password@host:15672), used as a cross-check of
    # unacknowledged messages when reachable; None derives it from `amqp_url`.
    management_url: str | None = None

    @classmethod
    def from_stack(cls, stack: Stack) -> Sources:
        state = stack.state
        if state is None:
            raise UserError("the stack is not running: nothing to audit")
        dbs = {name: stack.database_url(name) for name, s in state.services.items() if s.database}
        consumers = stack.topology.consumers()
        return cls(
            dbs,
            state.rabbitmq_url,
            state.namespace,
            consumers,
            metrics={c: stack.url(c) for c in consumers if c in state.services},
            management_url=os.environ.get(MANAGEMENT_ENV) or None,
        )

    def queue(self, consumer: str) -> str:
        return infra.work_queue(self.namespace, consumer)

    def delay_queues(self, consumer: str) -> list[str]:
        return infra.delay_queues(self.namespace, consumer)

    def dlq(self, consumer: str) -> str:
        return infra.dead_letter_queue(self.namespace, consumer)


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


class Databases:
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


async def _read_outbox(dbs: Databases) -> list[OutboxRow]:
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
    dbs = Databases(sources.databases)
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


async def connect(amqp_url: str) -> aio_pika.abc.AbstractConnection:
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
        reason=_text(headers.get(DEAD_REASON_HEADER) or headers.get("x-first-death-reason")),
        booking_id=_text(data.get("booking_id")),
    )


async def read_dead_letters(sources: Sources) -> list[DeadLetter]:
    """Every message in the run's dead-letter queues, left in place for people to inspect."""
    letters: list[DeadLetter] = []
    conn = await connect(sources.amqp_url)
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
