"""facilities and reservations; no slot held twice

Revision ID: 0001
"""

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    # Lets the exclusion constraint combine uuid equality with range overlap.
    op.execute("CREATE EXTENSION IF NOT EXISTS btree_gist")
    op.create_table(
        "facilities",
        sa.Column("id", sa.Uuid, primary_key=True),
        sa.Column("name", sa.String(200), nullable=False),
        sa.Column("capacity", sa.Integer, nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("capacity > 0", name="ck_facilities_capacity_positive"),
    )
    op.create_table(
        "reservations",
        sa.Column("booking_id", sa.Uuid, primary_key=True),
        # Null only in a tombstone: a release that came before any hold.
        sa.Column("facility_id", sa.Uuid, sa.ForeignKey("facilities.id")),
        sa.Column("starts_at", sa.DateTime(timezone=True)),
        sa.Column("ends_at", sa.DateTime(timezone=True)),
        sa.Column("status", sa.String(16), nullable=False),
        sa.Column(
            "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.Column(
            "updated_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
        ),
        sa.CheckConstraint("ends_at > starts_at", name="ck_reservations_slot_order"),
        sa.CheckConstraint(
            "status = 'released' OR (facility_id IS NOT NULL AND starts_at IS NOT NULL "
            "AND ends_at IS NOT NULL)",
            name="ck_reservations_tombstone_released",
        ),
        sa.CheckConstraint(
            "status IN ('held', 'confirmed', 'released')", name="ck_reservations_status"
        ),
    )
    op.execute(
        "ALTER TABLE reservations ADD CONSTRAINT ex_reservations_no_overlap "
        "EXCLUDE USING gist (facility_id WITH =, tstzrange(starts_at, ends_at) WITH &&) "
        "WHERE (status <> 'released')"
    )
    op.create_index("ix_reservations_facility_time", "reservations", ["facility_id", "starts_at"])


def downgrade() -> None:
    op.drop_table("reservations")
    op.drop_table("facilities")
