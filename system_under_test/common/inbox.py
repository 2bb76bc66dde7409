"""Consumer-side dedupe: an event id is processed once per consumer (`inbox` table)."""

from __future__ import annotations

from typing import Any

from alembic.operations import Operations
from sqlalchemy import Column, DateTime, MetaData, PrimaryKeyConstraint, String, Table, func
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncConnection


def _columns() -> list[Any]:
    return [
        Column("event_id", String(64), nullable=False),
        Column("consumer", String(200), nullable=False),
        Column("received_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        PrimaryKeyConstraint("event_id", "consumer", name="pk_inbox"),
    ]


def inbox_table(metadata: MetaData) -> Table:
    """The `inbox` table in a service's metadata."""
    table = Table("inbox", metadata, *_columns())
    return table


def create_inbox_table(op: Operations) -> None:
    """For a service's Alembic migration: `create_inbox_table(op)`."""
    op.create_table("inbox", *_columns())


_GENERIC = Table("inbox", MetaData(), *_columns())


async def first_delivery(
    conn: AsyncConnection, event_id: str, consumer: str, *, dedupe: bool = True
) -> bool:
    """Record the delivery in the caller's transaction; False when it was seen before.

    Call it in the same transaction as the handler's effects, so a crash before commit
    leaves the event unseen. Pass `dedupe=settings.consumer_dedupe`: with False a redelivery
    is processed again (the switch the chaos layer turns off).
    """
    stmt = (
        insert(_GENERIC)
        .values(event_id=str(event_id), consumer=consumer)
        .on_conflict_do_nothing(index_elements=["event_id", "consumer"])
        .returning(_GENERIC.c.event_id)
    )
    inserted = (await conn.execute(stmt)).first() is not None
    return inserted or not dedupe
