"""Tables of the facilities database (SQLAlchemy Core)."""

from pathlib import Path

from sqlalchemy import (
    CheckConstraint,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Uuid,
    func,
)

metadata = MetaData()

facilities = Table(
    "facilities",
    metadata,
    Column("id", Uuid, primary_key=True),
    Column("name", String(200), nullable=False),
    Column("capacity", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    CheckConstraint("capacity > 0", name="ck_facilities_capacity_positive"),
)

# The exclusion constraint that keeps a slot from being held twice lives in the migration
# (ex_reservations_no_overlap); a violation surfaces as SQLSTATE 23P01.
reservations = Table(
    "reservations",
    metadata,
    Column("booking_id", Uuid, primary_key=True),
    Column("facility_id", Uuid),  # facility and slot are null in a tombstone
    Column("starts_at", DateTime(timezone=True)),
    Column("ends_at", DateTime(timezone=True)),
    Column("status", String(16), nullable=False),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
