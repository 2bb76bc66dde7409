"""Database start-up: creation, migrations (idempotent on restart), transactions."""

import pytest
from sqlalchemy import inspect, select, text

from system_under_test.common.db import Database, on_commit

from .sample_service.orm import MIGRATIONS, metadata, widgets

pytestmark = pytest.mark.integration


async def test_start_creates_missing_database_and_migrates_idempotently(make_database_url):
    url = make_database_url(create=False)
    db = Database(url, metadata, MIGRATIONS)
    await db.start()
    async with db.engine.connect() as conn:
        tables = await conn.run_sync(lambda c: set(inspect(c).get_table_names()))
        version = await conn.scalar(text("SELECT version_num FROM alembic_version"))
    await db.stop()
    assert {"widgets", "outbox", "inbox", "alembic_version"} <= tables
    assert version == "0002"

    # A restart against the migrated database must neither fail nor lose data.
    db = Database(url, metadata, MIGRATIONS)
    await db.start()
    async with db.transaction() as conn:
        await conn.execute(widgets.insert().values(name="kept"))
    await db.stop()
    db = Database(url, metadata, MIGRATIONS)
    await db.start()
    async with db.transaction() as conn:
        names = (await conn.execute(select(widgets.c.name))).scalars().all()
    await db.stop()
    assert names == ["kept"]


async def test_transaction_rolls_back_on_error_and_skips_after_commit_hooks(database_url):
    db = Database(database_url, metadata, MIGRATIONS)
    await db.start()
    ran: list[str] = []
    try:
        with pytest.raises(RuntimeError):
            async with db.transaction() as conn:
                await conn.execute(widgets.insert().values(name="doomed"))
                on_commit(conn, lambda: ran.append("rolled back"))
                raise RuntimeError("boom")
        async with db.transaction() as conn:
            await conn.execute(widgets.insert().values(name="committed"))
            on_commit(conn, lambda: ran.append("committed"))
        async with db.transaction() as conn:
            names = (await conn.execute(select(widgets.c.name))).scalars().all()
        assert names == ["committed"]
        assert ran == ["committed"]
        assert await db.ping() is True
    finally:
        await db.stop()


async def test_unreachable_server_fails_after_the_startup_budget():
    from system_under_test.common.db import DatabaseUnavailable

    # Port 1 on loopback refuses connections at once.
    db = Database(
        "postgresql+psycopg://postgres@127.0.0.1:1/fl_t_never",
        metadata,
        MIGRATIONS,
        startup_timeout_s=0.5,
    )
    with pytest.raises(DatabaseUnavailable, match=r"127\.0\.0\.1:1/"):
        await db.start()
