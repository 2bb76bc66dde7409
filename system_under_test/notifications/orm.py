"""The notifications database: messages sent, and the inbox of events already handled."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, Index, MetaData, String, Table, Text, Uuid

from system_under_test.common.inbox import inbox_table

metadata = MetaData()

# No unique constraint on event_id: the inbox is the dedupe mechanism, and with it
# switched off (SVC_CONSUMER_DEDUPE=false) a redelivery must really send twice.
notifications = Table(
    "notifications",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("event_id", String(64), nullable=False),
    Column("event_type", String(200), nullable=False),
    Column("user_id", Uuid, nullable=False),
    Column("booking_id", Uuid),
    Column("channel", String(32), nullable=False),
    Column("recipient", String(320), nullable=False),
    Column("subject", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("sent_at", DateTime(timezone=True), nullable=False),
    Index("ix_notifications_booking_id", "booking_id"),
    Index("ix_notifications_user_id", "user_id"),
    Index("ix_notifications_event_id", "event_id"),
)

inbox = inbox_table(metadata)
