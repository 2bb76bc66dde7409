"""The users database: accounts, and the outbox their events leave through."""

from __future__ import annotations

from sqlalchemy import Column, DateTime, MetaData, String, Table, UniqueConstraint, Uuid

from system_under_test.common.outbox import outbox_table

metadata = MetaData()

users = Table(
    "users",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("email", String(254), nullable=False),
    Column("name", String(200), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False),
    UniqueConstraint("email", name="uq_users_email"),
)

outbox = outbox_table(metadata)
