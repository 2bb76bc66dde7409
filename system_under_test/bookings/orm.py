"""The bookings database: bookings, the saga log, idempotency keys and the outbox."""

from __future__ import annotations

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    func,
    text,
)
from sqlalchemy.dialects.postgresql import UUID

from system_under_test.common.outbox import outbox_table

metadata = MetaData()

bookings = Table(
    "bookings",
    metadata,
    Column("id", UUID(as_uuid=True), primary_key=True),
    Column("user_id", UUID(as_uuid=True), nullable=False),
    Column("facility_id", UUID(as_uuid=True), nullable=False),
    Column("starts_at", DateTime(timezone=True), nullable=False),
    Column("ends_at", DateTime(timezone=True), nullable=False),
    Column("amount_cents", BigInteger, nullable=False),
    Column("payment_method", String(64), nullable=False),
    Column("status", String(16), nullable=False),
    Column("reason", String(64)),
    # False while the saga has work left (running, compensating, or a cancellation underway);
    # the recovery loop looks only at these rows.
    Column("settled", Boolean, nullable=False, server_default=text("false")),
    # The saga's driver and how long its claim lasts: a driver renews it while it works and
    # clears it when it stops; the claim of a process that died runs out, and another takes
    # over. Every log write checks the owner, so a driver that lost its lease stops.
    Column("lease_owner", UUID(as_uuid=True)),
    Column("lease_until", DateTime(timezone=True)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Index("ix_bookings_unsettled", "updated_at", postgresql_where=text("NOT settled")),
    Index("ix_bookings_status", "status"),
)

saga_log = Table(
    "saga_log",
    metadata,
    Column("booking_id", UUID(as_uuid=True), ForeignKey("bookings.id"), primary_key=True),
    Column("seq", Integer, primary_key=True),
    Column("step", String(16), nullable=False),
    Column("action", String(16), nullable=False),
    Column("status", String(16), nullable=False),
    Column("detail", Text),
    Column("at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

idempotency_keys = Table(
    "idempotency_keys",
    metadata,
    Column("key", String(200), primary_key=True),
    Column("booking_id", UUID(as_uuid=True), ForeignKey("bookings.id"), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

outbox = outbox_table(metadata)
