"""Fixtures for the booking suite's integration tests: real PostgreSQL and RabbitMQ.

The servers are shared with other runs, so every test gets its own database (`fl_t_<hex>`,
force-dropped afterwards) and its own broker namespace (exchanges and queues deleted
afterwards); servers bind port 0.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import aio_pika
import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from sqlalchemy.engine import make_url

from system_under_test.common.db import drop_database, ensure_database
from system_under_test.common.messaging import queue_names

# Every queue the suite's services declare, so a namespace can be cleaned without listing.
SUITE_QUEUES = ("users", "facilities", "payments", "bookings", "notifications", "gateway")


def _postgres_server_url() -> str:
    raw = os.environ.get("FAULTLINE_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
    return make_url(raw).set(drivername="postgresql+psycopg").render_as_string(hide_password=False)


def _amqp_url() -> str:
    return os.environ.get("FAULTLINE_RABBITMQ_URL", "amqp://guest:guest@127.0.0.1:5672/")


def unique_name(prefix: str = "fl_t_") -> str:
    return f"{prefix}{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """SQLAlchemy URL of the server's `postgres` database (psycopg driver)."""
    return _postgres_server_url()


@pytest.fixture(scope="session")
def amqp_url() -> str:
    return _amqp_url()


@pytest.fixture(scope="session")
def make_database_url(postgres_server_url: str) -> Iterator[Callable[..., str]]:
    """Factory: `make_database_url(create=True)` → URL of a new uniquely named database.

    With `create=False` only the name is reserved (to test creation at start-up). Every
    database handed out is force-dropped at the end of the session.
    """
    handed_out: list[str] = []

    def make(create: bool = True) -> str:
        url = make_url(postgres_server_url).set(database=unique_name())
        rendered = url.render_as_string(hide_password=False)
        if create:
            ensure_database(rendered)
        handed_out.append(rendered)
        return rendered

    yield make
    for url in handed_out:
        with contextlib.suppress(Exception):
            drop_database(url)


@pytest.fixture(scope="module")
def database_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh database per test module, force-dropped afterwards."""
    url = (
        make_url(postgres_server_url)
        .set(database=unique_name())
        .render_as_string(hide_password=False)
    )
    ensure_database(url)
    yield url
    drop_database(url)


class BrokerNamespace:
    """A random broker namespace; `track(queue)` adds a queue name for cleanup."""

    def __init__(self, amqp_url: str) -> None:
        self.name = unique_name()
        self.amqp_url = amqp_url
        self.queues: set[str] = set(SUITE_QUEUES)

    def track(self, queue: str) -> str:
        self.queues.add(queue)
        return queue

    async def cleanup(self) -> None:
        connection = await aio_pika.connect(self.amqp_url, timeout=5)
        async with connection:
            for queue in sorted(self.queues):
                for name in queue_names(self.name, queue):
                    channel = await connection.channel()
                    with contextlib.suppress(Exception):
                        await channel.queue_delete(name)
                    with contextlib.suppress(Exception):
                        await channel.close()
            for exchange in (f"{self.name}.events", f"{self.name}.dlx"):
                channel = await connection.channel()
                with contextlib.suppress(Exception):
                    await channel.exchange_delete(exchange)
                with contextlib.suppress(Exception):
                    await channel.close()


@pytest.fixture
async def broker_namespace(amqp_url: str) -> AsyncIterator[BrokerNamespace]:
    """A fresh namespace (`ns.events`, `ns.dlx`, `ns.<queue>`…) deleted after the test."""
    namespace = BrokerNamespace(amqp_url)
    yield namespace
    await namespace.cleanup()


@contextlib.asynccontextmanager
async def app_client(app: FastAPI, **client_kwargs: Any) -> AsyncIterator[httpx.AsyncClient]:
    """Run `app`'s lifespan and give an in-process httpx client to it."""
    async with app.router.lifespan_context(app):
        transport = httpx.ASGITransport(app=app, raise_app_exceptions=False)
        async with httpx.AsyncClient(
            transport=transport, base_url="http://testserver", **client_kwargs
        ) as client:
            yield client


@contextlib.asynccontextmanager
async def serve(app: Any) -> AsyncIterator[str]:
    """Serve an ASGI app with a real uvicorn on 127.0.0.1:<free port>; yields its base URL."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, lifespan="on", access_log=False)
    server = uvicorn.Server(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        async with asyncio.timeout(30):
            while not server.started:
                if task.done():
                    task.result()
                    raise RuntimeError("uvicorn exited before starting")
                await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        with contextlib.suppress(Exception):
            await asyncio.wait_for(task, 10)
        sock.close()


async def eventually(
    check: Callable[[], Any], *, within_s: float = 10.0, interval_s: float = 0.05
) -> Any:
    """Poll `check` (sync or async) until it returns a truthy value or the deadline passes."""
    deadline = asyncio.get_running_loop().time() + within_s
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return result
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError(f"condition not met within {within_s}s")
        await asyncio.sleep(interval_s)


@pytest.fixture
def asgi_client() -> Callable[..., contextlib.AbstractAsyncContextManager[httpx.AsyncClient]]:
    """`async with asgi_client(app) as client:` — lifespan run, in-process transport."""
    return app_client


@pytest.fixture
def http_server() -> Callable[[Any], contextlib.AbstractAsyncContextManager[str]]:
    """`async with http_server(app) as base_url:` — a real uvicorn on a free port."""
    return serve


@pytest.fixture
def wait_until() -> Callable[..., Any]:
    """`await wait_until(check, within_s=5)` — poll instead of sleeping."""
    return eventually
