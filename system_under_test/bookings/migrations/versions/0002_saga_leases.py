"""Saga leases: who drives a saga, and until when.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-26
"""

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects.postgresql import UUID

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("bookings", sa.Column("lease_owner", UUID(as_uuid=True)))
    op.add_column("bookings", sa.Column("lease_until", sa.DateTime(timezone=True)))


def downgrade() -> None:
    op.drop_column("bookings", "lease_until")
    op.drop_column("bookings", "lease_owner")
