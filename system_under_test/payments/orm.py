"""Tables of the payments database (SQLAlchemy Core)."""

from pathlib import Path

from sqlalchemy import BigInteger, Column, DateTime, MetaData, String, Table, Uuid, func

metadata = MetaData()

# One row per booking: its payment state. Amount and method are null for a void-first row.
charges = Table(
    "charges",
    metadata,
    Column("booking_id", Uuid, primary_key=True),
    Column("id", Uuid, nullable=False, unique=True),
    Column("amount_cents", BigInteger),
    Column("payment_method", String(100)),
    Column("status", String(16), nullable=False),
    Column("decline_code", String(64)),
    Column("created_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
    Column("updated_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

# Every authorisation attempt, declined ones included: the audit trail of what was tried.
charge_attempts = Table(
    "charge_attempts",
    metadata,
    Column("id", BigInteger, primary_key=True, autoincrement=True),
    Column("booking_id", Uuid, nullable=False, index=True),
    Column("amount_cents", BigInteger, nullable=False),
    Column("payment_method", String(100), nullable=False),
    Column("outcome", String(16), nullable=False),
    Column("decline_code", String(64)),
    Column("attempted_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
)

MIGRATIONS_DIR = Path(__file__).parent / "migrations"
