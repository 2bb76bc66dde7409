"""PostgreSQL and RabbitMQ checks and clean-up, against the real servers."""

from __future__ import annotations

import asyncio
import secrets

import aio_pika
import psycopg
import pytest

from harness import infra, urls
from harness.errors import UserError
from harness.processes import free_port
from harness.topology import load_topology

pytestmark = pytest.mark.integration
TOPO = load_topology()


def test_reachable_servers_pass_the_checks():
    infra.check_postgres(TOPO.postgres, TOPO.postgres.url())
    infra.check_rabbitmq(TOPO.rabbitmq, TOPO.rabbitmq.url())


def test_unreachable_postgres_names_the_variable_the_url_and_the_remedy():
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    with pytest.raises(UserError) as info:
        infra.check_postgres(TOPO.postgres, url)
    message = str(info.value)
    assert message.startswith(f"PostgreSQL is not reachable at {url}")
    assert "FAULTLINE_POSTGRES_URL" in message
    assert "docker compose up -d postgres" in message
    assert "testcontainers" in message
    assert "\n" not in message


def test_unreachable_rabbitmq_names_the_variable_the_url_and_the_remedy():
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    with pytest.raises(UserError) as info:
        infra.check_rabbitmq(TOPO.rabbitmq, url)
    message = str(info.value)
    assert message.startswith(f"RabbitMQ is not reachable at {url}")
    assert "FAULTLINE_RABBITMQ_URL" in message
    assert "docker compose up -d rabbitmq" in message
    assert "\n" not in message


def test_url_rewriting_keeps_credentials_and_swaps_the_address():
    url = "amqp://guest:secret@10.0.0.1:5672/vhost"
    assert urls.amqp_through(url, "127.0.0.1", 4000) == "amqp://guest:secret@127.0.0.1:4000/vhost"
    # The default vhost "/" is written %2F and must stay so.
    assert urls.amqp_through("amqp://u:p@h:1/%2F", "x", 2) == "amqp://u:p@x:2/%2F"
    pg = urls.service_url(
        "postgresql://postgres@db:5432/postgres?sslmode=disable",
        "fl_x_users",
        host="127.0.0.1",
        port=4001,
    )
    assert pg == "postgresql+psycopg://postgres@127.0.0.1:4001/fl_x_users?sslmode=disable"
    assert urls.libpq_url("postgresql+psycopg://u@h/d") == "postgresql://u@h/d"
    assert (
        urls.libpq_url("postgresql://u:p%40ss@h:5/d", "other") == "postgresql://u:p%40ss@h:5/other"
    )
    assert urls.service_url("postgresql://u@h/postgres", "x") == "postgresql+psycopg://u@h/x"
    assert urls.address("amqp://guest:guest@rabbit/", 5672) == ("rabbit", 5672)


def test_a_malformed_postgres_url_is_a_user_error():
    with pytest.raises(UserError, match="invalid PostgreSQL URL"):
        urls.libpq_url("not a url")


def test_drop_databases_removes_them_even_with_sessions_attached():
    url = TOPO.postgres.url()
    name = f"fl_t_{secrets.token_hex(6)}"
    with psycopg.connect(urls.libpq_url(url), autocommit=True) as admin:
        admin.execute(f'CREATE DATABASE "{name}"')
    held = psycopg.connect(urls.libpq_url(url, name))
    try:
        assert infra.existing_databases(url, name) == [name]
        infra.drop_databases(url, [name, f"{name}_never_created"])
        assert infra.existing_databases(url, name) == []
    finally:
        held.close()


def test_delete_broker_objects_removes_a_namespace_exchanges_and_queues():
    url = TOPO.rabbitmq.url()
    namespace = f"fl_t_{secrets.token_hex(6)}"
    exchanges, queues = infra.broker_objects(namespace, ["notifications"])
    assert exchanges == [f"{namespace}.events", f"{namespace}.dlx"]
    assert queues == [
        f"{namespace}.notifications",
        *(f"{namespace}.notifications.retry.{n}" for n in range(1, infra.DELAY_TIERS + 1)),
        f"{namespace}.notifications.dlq",
    ]

    async def declare() -> None:
        async with await aio_pika.connect(url) as conn:
            channel = await conn.channel()
            for name in exchanges:
                await channel.declare_exchange(name, aio_pika.ExchangeType.TOPIC, durable=True)
            for name in queues:
                await channel.declare_queue(name, durable=True)

    async def remaining() -> list[str]:
        found = []
        async with await aio_pika.connect(url) as conn:
            for name in queues:
                channel = await conn.channel()
                try:
                    await channel.declare_queue(name, passive=True)
                    found.append(name)
                except aio_pika.exceptions.ChannelClosed:
                    pass
            for name in exchanges:
                channel = await conn.channel()
                try:
                    await channel.get_exchange(name, ensure=True)
                    found.append(name)
                except aio_pika.exceptions.ChannelClosed:
                    pass
        return found

    asyncio.run(declare())
    assert sorted(asyncio.run(remaining())) == sorted(exchanges + queues)
    infra.delete_broker_objects(url, exchanges, [*queues, f"{namespace}.absent"])
    assert asyncio.run(remaining()) == []
