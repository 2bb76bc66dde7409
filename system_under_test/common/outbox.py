"""Transactional outbox: events are rows written with the business change, then relayed.

`EventPublisher.emit(conn, event)` inserts into `outbox` inside the caller's transaction;
`OutboxRelay` publishes unpublished rows in id order (publisher confirms) and marks them.
A row keeps the W3C trace context of the transaction that wrote it, and the relay publishes it
inside that trace, so the consumer's span joins the trace of the request that caused the event.
With `SVC_OUTBOX=false` the event is published straight after commit instead, best effort.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from typing import Any

from alembic.operations import Operations
from prometheus_client import Counter, Gauge
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Index,
    MetaData,
    String,
    Table,
    func,
    select,
    text,
    update,
)
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.ext.asyncio import AsyncConnection
from tenacity import AsyncRetrying, retry_if_exception_type, wait_exponential

from . import tracing
from .db import Database, on_commit
from .messaging import Broker
from .observability import correlation_id_var, get_correlation_id, log_retry
from .settings import ServiceSettings
from .tasks import cancel_and_wait

log = logging.getLogger(__name__)

OUTBOX_BACKLOG = Gauge("faultline_outbox_backlog", "Outbox rows not yet published", ["service"])
EVENTS_PUBLISHED = Counter(
    "faultline_events_published_total", "Events published to the broker", ["service", "type"]
)
EVENTS_LOST = Counter(
    "faultline_events_lost_total",
    "Events dropped because the broker was away and the outbox is switched off",
    ["service", "type"],
)


def _columns() -> list[Any]:
    return [
        Column("id", BigInteger, primary_key=True, autoincrement=True),
        Column("event_id", String(64), nullable=False, unique=True),
        Column("type", String(200), nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("correlation_id", String(128)),
        Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("published_at", DateTime(timezone=True)),
    ]


def _trace_context() -> Column[Any]:
    # Added by each service's later migration (`add_outbox_trace_context`), so not in
    # `_columns()`, which their first migrations create the table from.
    return Column("trace_context", JSONB)


def outbox_table(metadata: MetaData) -> Table:
    """The `outbox` table in a service's metadata."""
    return Table(
        "outbox",
        metadata,
        *_columns(),
        _trace_context(),
        Index("ix_outbox_pending", "id", postgresql_where=text("published_at IS NULL")),
    )


def create_outbox_table(op: Operations) -> None:
    """For a service's Alembic migration: `create_outbox_table(op)`."""
    op.create_table("outbox", *_columns())
    op.create_index(
        "ix_outbox_pending", "outbox", ["id"], postgresql_where=text("published_at IS NULL")
    )


def add_outbox_trace_context(op: Operations) -> None:
    """For a service's Alembic migration: the trace context column of its outbox."""
    op.add_column("outbox", _trace_context())


class OutboxRelay:
    """Publishes pending outbox rows in order; wakes on local commits, polls otherwise."""

    def __init__(
        self,
        db: Database,
        broker: Broker,
        table: Table,
        settings: ServiceSettings,
        *,
        batch_size: int = 100,
    ) -> None:
        self.db = db
        self.broker = broker
        self.table = table
        self.service = settings.name
        self.poll_s = settings.outbox_poll_s
        self.batch_size = batch_size
        self._wake = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        # The last pass saw every pending row and published them all: the backlog was empty
        # then, and need not be counted (a query per pass, on every commit under load).
        self._drained = False

    def wake(self) -> None:
        self._wake.set()

    def start(self) -> None:
        if self._task is None:
            self._task = asyncio.create_task(self._run(), name="outbox-relay")

    async def stop(self) -> None:
        if self._task is not None:
            await cancel_and_wait(self._task)
            self._task = None

    async def _run(self) -> None:
        while True:
            # After a failed pass the relay backs off, doubling from twice the poll interval
            # up to 2 s, and starts over from the poll interval after a pass that worked. A
            # commit wakes it early from a backoff as from a poll.
            retrying = AsyncRetrying(
                wait=wait_exponential(multiplier=2 * self.poll_s, max=2.0),
                retry=retry_if_exception_type(Exception),
                sleep=self._sleep,
                before_sleep=log_retry(log, "outbox relay"),
            )
            published = await retrying(self._pass)
            if published < self.batch_size:
                await self._sleep(self.poll_s)

    async def _pass(self) -> int:
        """Publish a batch and count the backlog; on failure the backlog is still counted."""
        try:
            published = await self.publish_pending()
            if self._drained:
                OUTBOX_BACKLOG.labels(self.service).set(0)
            else:
                await self._update_backlog()
        except Exception:
            with contextlib.suppress(Exception):
                await self._update_backlog()
            raise
        return published

    async def _sleep(self, seconds: float) -> None:
        """Sleep until woken or `seconds` pass.

        asyncio.wait rather than asyncio.timeout: on Python 3.11 a cancel that coincides
        with the timeout is turned into TimeoutError, which would swallow stop()."""
        waiter = asyncio.ensure_future(self._wake.wait())
        try:
            await asyncio.wait({waiter}, timeout=seconds)
        finally:
            waiter.cancel()
        self._wake.clear()

    async def publish_pending(self) -> int:
        """Publish one batch; returns how many rows were published.

        Rows are locked (`FOR UPDATE SKIP LOCKED`) so two relays never send the same row at
        once. A publish failure stops the batch but keeps what was already confirmed, then
        raises so the caller backs off.
        """
        t = self.table
        published = 0
        failure: Exception | None = None
        self._drained = False
        async with self.db.transaction() as conn:
            rows = (
                await conn.execute(
                    select(t.c.id, t.c.payload, t.c.correlation_id, t.c.trace_context)
                    .where(t.c.published_at.is_(None))
                    .order_by(t.c.id)
                    .limit(self.batch_size)
                    .with_for_update(skip_locked=True)
                )
            ).all()
            done: list[int] = []
            for row in rows:
                try:
                    with tracing.continued(row.trace_context):
                        await self.broker.publish(row.payload, row.correlation_id)
                except Exception as exc:
                    failure = exc
                    break
                done.append(row.id)
                EVENTS_PUBLISHED.labels(self.service, row.payload.get("type", "")).inc()
            if done:
                await conn.execute(
                    update(t).where(t.c.id.in_(done)).values(published_at=func.now())
                )
            published = len(done)
        if failure is not None:
            raise failure
        self._drained = len(rows) < self.batch_size
        return published

    async def backlog(self) -> int:
        t = self.table
        async with self.db.engine.connect() as conn:
            count = await conn.scalar(
                select(func.count()).select_from(t).where(t.c.published_at.is_(None))
            )
        return int(count or 0)

    async def _update_backlog(self) -> None:
        OUTBOX_BACKLOG.labels(self.service).set(await self.backlog())


class EventPublisher:
    """What a service's use cases call to emit an event inside their unit of work."""

    def __init__(
        self,
        settings: ServiceSettings,
        broker: Broker,
        table: Table,
        relay: OutboxRelay | None = None,
    ) -> None:
        self.settings = settings
        self.broker = broker
        self.table = table
        self.relay = relay

    async def emit(self, conn: AsyncConnection, event: dict[str, Any]) -> None:
        """Record `event` in the caller's transaction (`conn` from `Database.transaction()`)."""
        correlation_id = get_correlation_id()
        if self.settings.outbox:
            await conn.execute(
                self.table.insert().values(
                    event_id=str(event["event_id"]),
                    type=str(event["type"]),
                    payload=event,
                    correlation_id=correlation_id,
                    trace_context=tracing.current_context() or None,
                )
            )
            if self.relay is not None:
                on_commit(conn, self.relay.wake)
            return

        async def publish_now() -> None:
            token = correlation_id_var.set(correlation_id)
            try:
                await self.broker.publish(event, correlation_id)
            except Exception as exc:
                EVENTS_LOST.labels(self.settings.name, str(event["type"])).inc()
                log.warning("event %s lost (outbox off): %s", event["event_id"], exc)
            finally:
                correlation_id_var.reset(token)

        on_commit(conn, publish_now)
