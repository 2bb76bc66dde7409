"""notifications and inbox

Revision ID: 0001
Revises:
"""

import sqlalchemy as sa
from alembic import op

from system_under_test.common.inbox import create_inbox_table

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "notifications",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("event_id", sa.String(64), nullable=False),
        sa.Column("event_type", sa.String(200), nullable=False),
        sa.Column("user_id", sa.Uuid, nullable=False),
        sa.Column("booking_id", sa.Uuid),
        sa.Column("channel", sa.String(32), nullable=False),
        sa.Column("recipient", sa.String(320), nullable=False),
        sa.Column("subject", sa.String(200), nullable=False),
        sa.Column("body", sa.Text, nullable=False),
        sa.Column("sent_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_index("ix_notifications_booking_id", "notifications", ["booking_id"])
    op.create_index("ix_notifications_user_id", "notifications", ["user_id"])
    op.create_index("ix_notifications_event_id", "notifications", ["event_id"])
    create_inbox_table(op)


def downgrade() -> None:
    op.drop_table("inbox")
    op.drop_table("notifications")
