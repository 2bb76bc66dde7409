"""The audit's readers against the real servers: the suite's own schemas and a real DLQ."""

from __future__ import annotations

import json
import secrets
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import aio_pika
import psycopg
import pytest

import system_under_test
from harness.audit import Sources, audit, read_dead_letters, read_snapshot
from harness.audit import activity as audit_activity
from system_under_test.common.db import drop_database, ensure_database, libpq_dsn, run_migrations

pytestmark = pytest.mark.integration

AMQP_URL = "amqp://guest:guest@127.0.0.1:5672/"


@pytest.fixture
async def namespace() -> AsyncIterator[str]:
    ns = f"fl_t_{secrets.token_hex(4)}"
    yield ns
    conn = await aio_pika.connect(AMQP_URL)
    async with conn:
        channel = await conn.channel()
        for queue in (f"{ns}.notifications.dlq", f"{ns}.notifications"):
            await channel.queue_delete(queue)


async def test_dead_letters_are_reported_and_left_in_the_queue(namespace: str) -> None:
    conn = await aio_pika.connect(AMQP_URL)
    async with conn:
        channel = await conn.channel()
        dlq = await channel.declare_queue(f"{namespace}.notifications.dlq", durable=True)
        body = {"event_id": "e-1", "type": "booking.confirmed", "data": {"booking_id": "b-1"}}
        await channel.default_exchange.publish(
            aio_pika.Message(
                json.dumps(body).encode(),
                message_id="e-1",
                headers={"x-first-death-reason": "rejected"},
            ),
            routing_key=dlq.name,
        )
    sources = Sources({}, AMQP_URL, namespace)

    first = await read_dead_letters(sources)
    again = await read_dead_letters(sources)

    assert [(d.message_id, d.type, d.reason, d.booking_id) for d in first] == [
        ("e-1", "booking.confirmed", "rejected", "b-1")
    ]
    assert again == first  # reading does not consume: people can still inspect them


async def test_a_dead_letter_queue_never_declared_means_none(namespace: str) -> None:
    assert await read_dead_letters(Sources({}, AMQP_URL, namespace)) == []


SERVICES = ("bookings", "facilities", "payments", "notifications", "users")


@pytest.fixture
def databases() -> Iterator[dict[str, str]]:
    """One fresh database per service, migrated with the service's own Alembic scripts."""
    run = secrets.token_hex(4)
    urls = {s: f"postgresql+psycopg://postgres@127.0.0.1:5432/fl_t_{run}_{s}" for s in SERVICES}
    try:
        for service, url in urls.items():
            ensure_database(url)
            run_migrations(url, Path(system_under_test.__file__).parent / service / "migrations")
        yield urls
    finally:
        for url in urls.values():
            drop_database(url)


def _execute(url: str, *statements: str) -> None:
    with psycopg.connect(libpq_dsn(url), autocommit=True) as conn:
        for statement in statements:
            conn.execute(statement)


async def test_the_snapshot_reads_every_service_schema_as_migrated(
    databases: dict[str, str], namespace: str
) -> None:
    ok, leaked = str(uuid.uuid4()), str(uuid.uuid4())
    user, facility = str(uuid.uuid4()), str(uuid.uuid4())
    _execute(
        databases["bookings"],
        *(
            "INSERT INTO bookings (id, user_id, facility_id, starts_at, ends_at, amount_cents, "
            f"payment_method, status, reason, settled) VALUES ('{b}', '{user}', '{facility}', "
            f"'2040-01-01T10:00Z', '2040-01-01T11:00Z', 100, 'pm_card_visa', '{status}', "
            f"{reason}, true)"
            for b, status, reason in ((ok, "confirmed", "NULL"), (leaked, "cancelled", "'x'"))
        ),
        f"INSERT INTO saga_log (booking_id, seq, step, action, status, detail) VALUES "
        f"('{ok}', 1, 'reserve', 'do', 'started', NULL), ('{ok}', 2, 'reserve', 'do', "
        f"'succeeded', 'ok')",
        "INSERT INTO outbox (event_id, type, payload) VALUES ('e1', 'booking.confirmed', "
        f'\'{{"data": {{"booking_id": "{ok}"}}}}\')',
    )
    _execute(
        databases["facilities"],
        f"INSERT INTO facilities (id, name, capacity) VALUES ('{facility}', 'Chapel', 10)",
        "INSERT INTO reservations (booking_id, facility_id, starts_at, ends_at, status) VALUES "
        f"('{leaked}', '{facility}', '2040-01-01T10:00Z', '2040-01-01T11:00Z', 'held')",
    )
    _execute(
        databases["payments"],
        "INSERT INTO charges (booking_id, id, amount_cents, payment_method, status) VALUES "
        f"('{ok}', '{uuid.uuid4()}', 100, 'pm_card_visa', 'captured')",
    )
    _execute(
        databases["notifications"],
        "INSERT INTO notifications (id, event_id, event_type, user_id, booking_id, channel, "
        f"recipient, subject, body, sent_at) VALUES ('{uuid.uuid4()}', 'e1', "
        f"'booking.confirmed', '{user}', '{ok}', 'email', '{user}', 's', 'b', now())",
    )
    sources = Sources(databases, AMQP_URL, namespace)

    snapshot = await read_snapshot(sources)
    report = audit(snapshot)

    assert {(b.id, b.status) for b in snapshot.bookings} == {
        (ok, "confirmed"),
        (leaked, "cancelled"),
    }
    assert [(e.step, e.status, e.detail) for e in snapshot.saga] == [
        ("reserve", "started", None),
        ("reserve", "succeeded", "ok"),
    ]
    assert snapshot.outbox[0].booking_id == ok and not snapshot.outbox[0].published
    assert [(c.booking_id, c.status) for c in snapshot.charges] == [(ok, "captured")]
    assert snapshot.notifications[0].booking_id == ok
    # What is wrong in these rows is exactly what the audit names.
    assert report.check("compensated").ids("unexpected") == [leaked]
    assert report.check("outbox").ids("stuck") == ["e1"]
    assert report.check("confirmed").ids("lost") == [ok]  # no reservation row
    activity = await audit_activity(sources)
    assert (activity.pending_bookings, activity.outbox_backlog) == (0, 1)
    assert not activity.idle
