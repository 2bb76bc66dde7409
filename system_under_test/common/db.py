"""PostgreSQL access: database creation, Alembic migrations, transactions (SQLAlchemy Core)."""

from __future__ import annotations

import asyncio
import logging
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import psycopg
from alembic import command
from alembic.config import Config
from psycopg import errors as pg_errors
from psycopg import sql
from sqlalchemy import MetaData, event, exc, text
from sqlalchemy.engine import Dialect, make_url
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine
from tenacity import (
    AsyncRetrying,
    retry_if_exception_type,
    stop_after_delay,
    wait_exponential,
)

log = logging.getLogger(__name__)

AfterCommit = Callable[[], Awaitable[None] | None]
# After-commit hooks per open connection. Kept beside the connection rather than in its
# `info` (which lives on the pooled DBAPI connection): reading `info` of a connection that a
# cancellation invalidated reconnects outside SQLAlchemy's greenlet and turns the
# cancellation into MissingGreenlet, which kept background loops from stopping.
_after_commit: weakref.WeakKeyDictionary[AsyncConnection, list[AfterCommit]] = (
    weakref.WeakKeyDictionary()
)


# A pooled connection is pinged before use only when it sat unused this long. One used a moment
# ago that has died since is a failure during use, which a ping cannot prevent either: the
# request gets 503 + Retry-After and the pool drops every connection opened before it. A
# ping on every checkout cost a round trip per transaction, a third of all database work.
PING_AFTER_IDLE_S = 1.0
_LAST_USED = "faultline_last_used"


class DatabaseUnavailable(RuntimeError):
    """The database server could not be reached within the start-up budget."""


def libpq_dsn(url: str, dbname: str | None = None) -> str:
    """A plain `postgresql://` DSN for psycopg from a SQLAlchemy URL."""
    parsed = make_url(url)
    if dbname is not None:
        parsed = parsed.set(database=dbname)
    return parsed.set(drivername="postgresql").render_as_string(hide_password=False)


def ensure_database(url: str) -> bool:
    """Create the URL's database if it does not exist; True when it was created.

    Connects to the server's `postgres` database; two processes racing to create the same
    database is fine (the loser sees DuplicateDatabase).
    """
    name = make_url(url).database
    if not name:
        raise ValueError(f"database URL names no database: {url}")
    with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (name,)).fetchone()
        if exists:
            return False
        try:
            conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
        except (pg_errors.DuplicateDatabase, pg_errors.UniqueViolation):
            return False
        return True


def drop_database(url: str) -> None:
    """Drop the URL's database, disconnecting its sessions first (tests and `faultline down`)."""
    name = make_url(url).database
    with psycopg.connect(libpq_dsn(url, "postgres"), autocommit=True, connect_timeout=5) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )


def run_migrations(url: str, migrations_dir: str | Path) -> None:
    """Alembic upgrade to head (synchronous; psycopg serves both sync and async)."""
    config = Config()
    config.set_main_option("script_location", str(migrations_dir))
    # The URL object itself, not its text in the ini options (where `%` would need escaping).
    config.attributes["url"] = make_url(url)
    # Keep Alembic from reconfiguring logging when env.py reads a config file.
    config.attributes["configure_logger"] = False
    command.upgrade(config, "head")


def _ping_idle_connections(pool: Any, dialect: Dialect, idle_s: float) -> None:
    """Pool events: stamp a connection when it is made or returned, ping it at checkout when
    it has been idle longer than `idle_s` (a dead one is replaced, and every connection older
    than it discarded, as `pool_pre_ping` does)."""

    def stamp(dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info[_LAST_USED] = time.monotonic()

    def ping_if_idle(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if time.monotonic() - record.info.get(_LAST_USED, 0.0) <= idle_s:
            return
        try:
            dialect.do_ping(dbapi_connection)
        except dialect.loaded_dbapi.Error as error:
            if dialect.is_disconnect(error, dbapi_connection, None):
                raise exc.InvalidatePoolError() from error
            raise

    event.listen(pool, "connect", stamp)
    event.listen(pool, "checkin", stamp)
    event.listen(pool, "checkout", ping_if_idle)


def on_commit(conn: AsyncConnection, callback: AfterCommit) -> None:
    """Run `callback` once the transaction that `conn` is in has committed.

    Only works for connections from `Database.transaction()`; used by the outbox to wake the
    relay, and to publish directly after commit when the outbox is switched off.
    """
    hooks = _after_commit.get(conn)
    if hooks is None:
        raise RuntimeError("on_commit needs a connection from Database.transaction()")
    hooks.append(callback)


class Database:
    """One service's database: `await start()`, then `transaction()` for each unit of work."""

    def __init__(
        self,
        url: str,
        metadata: MetaData,
        migrations_dir: str | Path | None,
        *,
        pool_size: int = 10,
        pool_overflow: int = 0,
        pool_timeout_s: float = 2.0,
        ping_after_idle_s: float = PING_AFTER_IDLE_S,
        startup_timeout_s: float = 30.0,
    ) -> None:
        self.url = url
        self.metadata = metadata
        self.migrations_dir = Path(migrations_dir) if migrations_dir else None
        self.pool_size = pool_size
        self.pool_overflow = pool_overflow
        self.pool_timeout_s = pool_timeout_s
        self.ping_after_idle_s = ping_after_idle_s
        self.startup_timeout_s = startup_timeout_s
        self._engine: AsyncEngine | None = None

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise RuntimeError("Database.start() has not been awaited")
        return self._engine

    async def start(self) -> None:
        """Create the database if missing and migrate it, retrying while the server is away."""
        retrying = AsyncRetrying(
            stop=stop_after_delay(self.startup_timeout_s),
            wait=wait_exponential(multiplier=0.2, max=2.0),
            retry=retry_if_exception_type(psycopg.OperationalError),
            reraise=True,
        )
        try:
            async for attempt in retrying:
                with attempt:
                    await asyncio.to_thread(self._prepare)
        except psycopg.OperationalError as exc:
            safe = make_url(self.url).render_as_string(hide_password=True)
            log.error(
                "database unreachable after %.0fs at %s: %s", self.startup_timeout_s, safe, exc
            )
            raise DatabaseUnavailable(f"database unreachable at {safe}") from exc
        self._engine = create_async_engine(
            self.url,
            pool_size=self.pool_size,
            max_overflow=self.pool_overflow,
            # A checkout that waits this long raises sqlalchemy's TimeoutError, which the
            # problem handlers answer 503 + Retry-After.
            pool_timeout=self.pool_timeout_s,
            connect_args={"connect_timeout": 5},
        )
        _ping_idle_connections(
            self._engine.sync_engine.pool, self._engine.dialect, self.ping_after_idle_s
        )

    def _prepare(self) -> None:
        if ensure_database(self.url):
            log.info("created database %s", make_url(self.url).database)
        if self.migrations_dir is not None:
            run_migrations(self.url, self.migrations_dir)

    @asynccontextmanager
    async def transaction(self) -> AsyncIterator[AsyncConnection]:
        """`BEGIN … COMMIT` (rollback on error); after-commit hooks run once committed."""
        hooks: list[AfterCommit] = []
        async with self.engine.connect() as conn:
            _after_commit[conn] = hooks
            try:
                async with conn.begin():
                    yield conn
            finally:
                _after_commit.pop(conn, None)
        for hook in hooks:
            try:
                result = hook()
                if result is not None:
                    await result
            except Exception:
                log.exception("after-commit hook failed")

    @asynccontextmanager
    async def autocommit(self) -> AsyncIterator[AsyncConnection]:
        """A connection on which each statement commits on its own: one round trip for a
        write that a single statement makes atomic (no `BEGIN`, no `COMMIT`)."""
        async with self.engine.connect() as conn:
            yield await conn.execution_options(isolation_level="AUTOCOMMIT")

    async def ping(self, within_s: float = 2.0) -> bool:
        """True when a trivial query answers within `within_s` seconds.

        The probe runs as its own task and the answer does not wait for it to unwind: a
        cancelled query on a slow link can take as long as the query itself to give up,
        which made `/ready` answer after 5 s under 3 s of database latency.
        """
        if self._engine is None:
            return False
        probe = asyncio.ensure_future(self._select_one(self._engine))
        # Retrieve the outcome whenever it comes, so a late failure is not reported as unseen.
        probe.add_done_callback(lambda task: task.cancelled() or task.exception())
        done, _ = await asyncio.wait({probe}, timeout=within_s)
        if not done:
            probe.cancel()
            return False
        return not probe.cancelled() and probe.exception() is None

    @staticmethod
    async def _select_one(engine: AsyncEngine) -> None:
        async with engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def stop(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None
