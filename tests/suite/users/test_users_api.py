"""users on real PostgreSQL and RabbitMQ: accounts, validation, `user.created` via the outbox."""

from __future__ import annotations

import json
import uuid

import aio_pika
import pytest
from conftest import app_client, eventually
from sqlalchemy import create_engine, select

from system_under_test.users.app import build_app
from system_under_test.users.orm import outbox
from system_under_test.users.settings import UsersSettings

pytestmark = pytest.mark.integration


@pytest.fixture
def database_url(make_database_url) -> str:
    # One database per test: outbox rows of one test must not be relayed into the next.
    return make_database_url()


@pytest.fixture
async def users(database_url, broker_namespace, amqp_url):
    settings = UsersSettings(
        database_url=database_url, namespace=broker_namespace.name, amqp_url=amqp_url
    )
    async with app_client(build_app(settings)) as client:
        await eventually(lambda: _ready(client))
        yield client


async def _ready(client) -> bool:
    return (await client.get("/ready")).status_code == 200


@pytest.fixture
async def user_created_queue(broker_namespace, amqp_url, users):
    """A private queue bound to `user.created` on the namespace's events exchange."""
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{broker_namespace.name}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        name = f"{broker_namespace.name}.{broker_namespace.track('users_probe')}"
        queue = await channel.declare_queue(name, exclusive=True)
        await queue.bind(exchange, routing_key="user.created")
        yield queue


def _email() -> str:
    return f"ann.{uuid.uuid4().hex[:8]}@example.com"


async def test_register_then_read_back(users):
    email = _email()
    created = await users.post("/users", json={"email": email.upper(), "name": "  Ann  Smith "})
    assert created.status_code == 201
    body = created.json()
    assert body["email"] == email
    assert body["name"] == "Ann Smith"
    uuid.UUID(body["id"])

    fetched = await users.get(f"/users/{body['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == body


async def test_user_created_reaches_the_broker_through_the_outbox(
    users, user_created_queue, database_url
):
    email = _email()
    created = (await users.post("/users", json={"email": email, "name": "Ann"})).json()

    message = await eventually(lambda: user_created_queue.get(fail=False))
    await message.ack()
    event = json.loads(message.body)
    assert event["type"] == "user.created"
    assert event["data"] == {"user_id": created["id"], "email": email, "name": "Ann"}
    assert message.message_id == event["event_id"]
    assert message.routing_key == "user.created"

    def marked_published() -> bool:
        # The relay marks its batch in the transaction it commits after the broker's confirms,
        # so the mark may follow the delivery by a moment.
        engine = create_engine(database_url)
        try:
            with engine.connect() as conn:
                row = conn.execute(
                    select(outbox.c.published_at).where(outbox.c.event_id == event["event_id"])
                ).one()
        finally:
            engine.dispose()
        return row.published_at is not None

    assert await eventually(marked_published), "the relay marks what the broker confirmed"


async def test_taken_email_is_a_conflict_and_announces_nothing(
    users, user_created_queue, database_url
):
    email = _email()
    assert (await users.post("/users", json={"email": email, "name": "Ann"})).status_code == 201
    again = await users.post("/users", json={"email": email.title(), "name": "Other"})
    assert again.status_code == 409
    assert again.headers["content-type"] == "application/problem+json"
    assert again.json()["status"] == 409

    first = await eventually(lambda: user_created_queue.get(fail=False))
    await first.ack()
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            rows = conn.execute(select(outbox.c.payload)).scalars().all()
    finally:
        engine.dispose()
    assert [r["data"]["email"] for r in rows].count(email) == 1


@pytest.mark.parametrize(
    "body",
    [
        {"email": "not-an-address", "name": "Ann"},
        {"email": "ann@example.com", "name": "   "},
        {"email": "ann@example.com", "name": ""},
        {"email": "ann@example.com"},
        {"name": "Ann"},
        {"email": 42, "name": "Ann"},
        [],
    ],
)
async def test_invalid_account_is_422_problem(users, body):
    response = await users.post("/users", json=body)
    assert response.status_code == 422
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["detail"]


async def test_malformed_json_is_400(users):
    response = await users.post(
        "/users", content=b'{"email": ', headers={"content-type": "application/json"}
    )
    assert response.status_code == 400


async def test_unknown_and_invalid_ids(users):
    assert (await users.get(f"/users/{uuid.uuid4()}")).status_code == 404
    assert (await users.get("/users/not-a-uuid")).status_code == 422
