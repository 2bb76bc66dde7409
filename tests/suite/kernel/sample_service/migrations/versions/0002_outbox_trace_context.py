"""The outbox keeps the trace context of the transaction that wrote each event.

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from alembic import op

from system_under_test.common.outbox import add_outbox_trace_context

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    add_outbox_trace_context(op)


def downgrade() -> None:
    op.drop_column("outbox", "trace_context")
