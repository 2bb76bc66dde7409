"""The servers the stack needs but does not start: PostgreSQL and RabbitMQ.

Reachability checks that fail with one actionable line, and the clean-up of what a run
created on them (its databases, its exchanges and queues).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Iterable, Iterator

import aio_pika
import psycopg
from psycopg import sql

from harness.aio import run_sync
from harness.errors import UserError
from harness.topology import Infrastructure
from harness.urls import libpq_url

CONNECT_TIMEOUT_S = 3.0
_HOWTO = (
    "set {env} to a reachable server, or start one with `docker compose up -d {svc}` "
    "(or testcontainers where Docker exists)"
)


def check_postgres(server: Infrastructure, url: str) -> None:
    try:
        with psycopg.connect(libpq_url(url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
            conn.execute("SELECT 1")
    except (psycopg.Error, ValueError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"PostgreSQL is not reachable at {url} ({reason}); "
            + _HOWTO.format(env=server.env, svc="postgres")
        ) from None


@contextlib.contextmanager
def _quiet(*names: str) -> Iterator[None]:
    """Silence libraries that log a failed connection we report ourselves in one line."""
    loggers = [logging.getLogger(n) for n in names]
    levels = [lg.level for lg in loggers]
    for lg in loggers:
        lg.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for lg, level in zip(loggers, levels, strict=True):
            lg.setLevel(level)


def check_rabbitmq(server: Infrastructure, url: str) -> None:
    async def probe() -> None:
        conn = await asyncio.wait_for(aio_pika.connect(url), CONNECT_TIMEOUT_S)
        await conn.close()

    try:
        with _quiet("aiormq", "aio_pika"):
            run_sync(probe())
    except Exception as exc:  # aiormq raises many unrelated types for "cannot connect"
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise UserError(
            f"RabbitMQ is not reachable at {url} ({reason}); "
            + _HOWTO.format(env=server.env, svc="rabbitmq")
        ) from None


def drop_databases(url: str, names: Iterable[str]) -> None:
    """Drop databases, disconnecting any session still attached (PostgreSQL 13+)."""
    with psycopg.connect(
        libpq_url(url), autocommit=True, connect_timeout=CONNECT_TIMEOUT_S
    ) as conn:
        for name in names:
            conn.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )


def existing_databases(url: str, prefix: str) -> list[str]:
    with psycopg.connect(libpq_url(url), connect_timeout=CONNECT_TIMEOUT_S) as conn:
        rows = conn.execute(
            "SELECT datname FROM pg_database WHERE starts_with(datname, %s)", (prefix,)
        ).fetchall()
    return [r[0] for r in rows]


# How many delay queues each consumer has (`<ns>.<queue>.retry.1` … `.retry.N`): part of the
# broker naming contract (docs/architecture.md, "Events"), like the other names below.
DELAY_TIERS = 10


def work_queue(namespace: str, consumer: str) -> str:
    return f"{namespace}.{consumer}"


def delay_queues(namespace: str, consumer: str) -> list[str]:
    """The queues where a consumer's failed events wait out their backoff."""
    return [f"{namespace}.{consumer}.retry.{n}" for n in range(1, DELAY_TIERS + 1)]


def dead_letter_queue(namespace: str, consumer: str) -> str:
    return f"{namespace}.{consumer}.dlq"


def broker_objects(namespace: str, consumers: Iterable[str]) -> tuple[list[str], list[str]]:
    """Exchange and queue names a run uses (docs/architecture.md, "Events")."""
    exchanges = [f"{namespace}.events", f"{namespace}.dlx"]
    queues: list[str] = []
    for name in consumers:
        queues += [
            work_queue(namespace, name),
            *delay_queues(namespace, name),
            dead_letter_queue(namespace, name),
        ]
    return exchanges, queues


def delete_broker_objects(url: str, exchanges: Iterable[str], queues: Iterable[str]) -> None:
    async def purge() -> None:
        conn = await asyncio.wait_for(aio_pika.connect(url), CONNECT_TIMEOUT_S)
        async with conn:
            # A failed delete closes the channel, so each name gets its own.
            for name in queues:
                channel = await conn.channel()
                with contextlib.suppress(aio_pika.exceptions.AMQPError):
                    await channel.queue_delete(name)
            for name in exchanges:
                channel = await conn.channel()
                with contextlib.suppress(aio_pika.exceptions.AMQPError):
                    await channel.exchange_delete(name)

    run_sync(purge())
