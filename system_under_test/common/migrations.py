"""What every service's Alembic `env.py` runs: `run_env()` online, with the configured URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine, pool


def run_env(target_metadata: MetaData | None = None) -> None:
    """Apply migrations on a short-lived synchronous connection (psycopg 3)."""
    url = context.config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
