from pathlib import Path

from sqlalchemy import Column, Integer, MetaData, String, Table

from system_under_test.common.inbox import inbox_table
from system_under_test.common.outbox import outbox_table

metadata = MetaData()
widgets = Table(
    "widgets",
    metadata,
    Column("id", Integer, primary_key=True),
    Column("name", String(100), nullable=False, unique=True),
)
outbox = outbox_table(metadata)
inbox = inbox_table(metadata)

MIGRATIONS = Path(__file__).parent / "migrations"
