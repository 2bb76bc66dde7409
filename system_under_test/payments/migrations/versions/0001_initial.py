"""charges and charge attempts

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    now = sa.func.now()
    op.create_table(
        "charges",
        sa.Column("booking_id", sa.Uuid, primary_key=True),
        sa.Column("id", sa.Uuid, nullable=False, unique=True),
        sa.Column("amount_cents", sa.BigInteger),
        sa.Column("payment_method", sa.String(100)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column("decline_code", sa.String(64)),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
        sa.CheckConstraint(
            "status IN ('captured', 'declined', 'refunded', 'voided')", name="ck_charges_status"
        ),
        sa.CheckConstraint("amount_cents > 0", name="ck_charges_amount_positive"),
        sa.CheckConstraint(
            "status = 'voided' OR (amount_cents IS NOT NULL AND payment_method IS NOT NULL)",
            name="ck_charges_amount_unless_voided",
        ),
    )
    op.create_table(
        "charge_attempts",
        sa.Column("id", sa.BigInteger, primary_key=True, autoincrement=True),
        sa.Column("booking_id", sa.Uuid, nullable=False),
        sa.Column("amount_cents", sa.BigInteger, nullable=False),
        sa.Column("payment_method", sa.String(100), nullable=False),
        sa.Column("outcome", sa.String(16), nullable=False),
        sa.Column("decline_code", sa.String(64)),
        sa.Column("attempted_at", sa.DateTime(timezone=True), nullable=False, server_default=now),
    )
    op.create_index("ix_charge_attempts_booking_id", "charge_attempts", ["booking_id"])


def downgrade() -> None:
    op.drop_table("charge_attempts")
    op.drop_table("charges")
