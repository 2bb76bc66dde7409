"""What every service's Alembic `env.py` runs: `run_env()` online, with the given URL."""

from __future__ import annotations

from alembic import context
from sqlalchemy import MetaData, create_engine, pool


def run_env(target_metadata: MetaData | None = None) -> None:
    """Apply migrations on a short-lived synchronous connection (psycopg 3), to the URL
    `run_migrations` passes (or `sqlalchemy.url` of an ini file, for the alembic command)."""
    config = context.config
    url = config.attributes.get("url") or config.get_main_option("sqlalchemy.url")
    engine = create_engine(url, poolclass=pool.NullPool)
    with engine.connect() as connection:
        context.configure(connection=connection, target_metadata=target_metadata)
        with context.begin_transaction():
            context.run_migrations()
    engine.dispose()
