"""payments over HTTP with a real database: charges, declines, refunds, voids."""

import asyncio
import uuid

import pytest

from system_under_test.common.db import Database
from system_under_test.common.uow import SqlUnitOfWork
from system_under_test.payments.app import build_app
from system_under_test.payments.orm import MIGRATIONS_DIR, metadata
from system_under_test.payments.repository import SqlPaymentsRepository
from system_under_test.payments.service import PaymentsService
from system_under_test.payments.settings import PaymentsSettings

pytestmark = pytest.mark.integration

VISA = {"amount_cents": 25_000, "payment_method": "pm_card_visa"}
DECLINED = {"amount_cents": 25_000, "payment_method": "pm_card_chargeDeclined"}


@pytest.fixture
async def client(database_url, asgi_client):
    app = build_app(PaymentsSettings(database_url=database_url))
    async with asgi_client(app) as client:
        yield client


@pytest.fixture
async def service(database_url):
    db = Database(database_url, metadata, MIGRATIONS_DIR)
    await db.start()
    yield PaymentsService(SqlUnitOfWork(db, SqlPaymentsRepository))
    await db.stop()


async def test_charge_is_captured_once_and_replayed(client):
    booking = str(uuid.uuid4())
    first = await client.put(f"/charges/{booking}", json=VISA)
    again = await client.put(f"/charges/{booking}", json=VISA)
    assert first.status_code == 201
    assert first.json()["status"] == "captured" and first.json()["amount_cents"] == 25_000
    assert again.status_code == 200 and again.json() == first.json()
    assert (await client.get(f"/charges/{booking}")).json() == first.json()


async def test_concurrent_charges_of_one_booking_capture_once(client, service):
    booking = uuid.uuid4()
    answers = await asyncio.gather(
        *(client.put(f"/charges/{booking}", json=VISA) for _ in range(30))
    )
    assert sorted(a.status_code for a in answers) == [200] * 29 + [201]
    assert len({a.json()["id"] for a in answers}) == 1
    assert await service.attempts(booking) == ["captured"]


async def test_concurrent_charges_and_refunds_of_one_booking_end_refunded_or_voided(
    client, service
):
    # Whichever comes first, a refund is never lost to a charge racing it: the booking ends
    # refunded (charged, then refunded) or voided (refunded first, the charge refused).
    booking = uuid.uuid4()
    answers = await asyncio.gather(
        *(client.put(f"/charges/{booking}", json=VISA) for _ in range(15)),
        *(client.post(f"/charges/{booking}/refund") for _ in range(15)),
    )
    assert {a.status_code for a in answers} <= {200, 201, 409}
    final = (await client.get(f"/charges/{booking}")).json()["status"]
    assert final in ("refunded", "voided")
    assert len([a for a in answers[:15] if a.status_code == 201]) == (final == "refunded")


async def test_decline_is_deterministic_and_every_attempt_recorded(client, service):
    booking = uuid.uuid4()
    first = await client.put(f"/charges/{booking}", json=DECLINED)
    second = await client.put(f"/charges/{booking}", json=DECLINED)
    for answer in (first, second):
        assert answer.status_code == 402
        assert answer.headers["content-type"] == "application/problem+json"
        assert answer.json()["title"] == "Payment declined"
    assert (await client.get(f"/charges/{booking}")).json()["status"] == "declined"
    assert await service.attempts(booking) == ["declined", "declined"]


async def test_refund_after_charge_refunds_idempotently_and_blocks_recharge(client):
    booking = str(uuid.uuid4())
    await client.put(f"/charges/{booking}", json=VISA)
    first = await client.post(f"/charges/{booking}/refund")
    again = await client.post(f"/charges/{booking}/refund")
    assert first.status_code == again.status_code == 200
    assert first.json() == again.json() == {"booking_id": booking, "status": "refunded"}
    assert (await client.get(f"/charges/{booking}")).json()["status"] == "refunded"
    assert (await client.put(f"/charges/{booking}", json=VISA)).status_code == 409


async def test_refund_before_charge_voids_and_the_late_charge_is_refused(client, service):
    booking = uuid.uuid4()
    voided = await client.post(f"/charges/{booking}/refund")
    assert voided.json() == {"booking_id": str(booking), "status": "voided"}
    late = await client.put(f"/charges/{booking}", json=VISA)
    assert late.status_code == 409 and late.json()["title"] == "Charge voided"
    charge = (await client.get(f"/charges/{booking}")).json()
    assert charge["status"] == "voided" and charge["amount_cents"] is None
    assert await service.attempts(booking) == []  # nothing was ever captured


async def test_refund_of_a_declined_booking_voids_it(client):
    booking = str(uuid.uuid4())
    await client.put(f"/charges/{booking}", json=DECLINED)
    assert (await client.post(f"/charges/{booking}/refund")).json()["status"] == "voided"
    assert (await client.put(f"/charges/{booking}", json=VISA)).status_code == 409


async def test_replay_with_a_different_amount_conflicts(client):
    booking = str(uuid.uuid4())
    await client.put(f"/charges/{booking}", json=VISA)
    other = await client.put(f"/charges/{booking}", json={**VISA, "amount_cents": 1})
    assert other.status_code == 409
    assert (await client.get(f"/charges/{booking}")).json()["amount_cents"] == 25_000


@pytest.mark.parametrize(
    ("method", "path", "body", "status"),
    [
        ("GET", f"/charges/{uuid.uuid4()}", None, 404),
        ("GET", "/charges/12345", None, 422),
        ("POST", "/charges/not-a-uuid/refund", None, 422),
        (
            "PUT",
            f"/charges/{uuid.uuid4()}",
            {"amount_cents": 0, "payment_method": "pm_card_visa"},
            422,
        ),
        (
            "PUT",
            f"/charges/{uuid.uuid4()}",
            {"amount_cents": -5, "payment_method": "pm_card_visa"},
            422,
        ),
        (
            "PUT",
            f"/charges/{uuid.uuid4()}",
            {"amount_cents": 10**12, "payment_method": "pm_card_visa"},
            422,
        ),
        (
            "PUT",
            f"/charges/{uuid.uuid4()}",
            {"amount_cents": 100, "payment_method": "pm_bogus"},
            422,
        ),
        (
            "PUT",
            f"/charges/{uuid.uuid4()}",
            {"amount_cents": "lots", "payment_method": "pm_card_visa"},
            422,
        ),
        ("PUT", f"/charges/{uuid.uuid4()}", {"payment_method": "pm_card_visa"}, 422),
    ],
)
async def test_bad_input_gets_a_problem_not_a_500(client, method, path, body, status):
    response = await client.request(method, path, json=body)
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["status"] == status


async def test_malformed_json_is_400(client):
    response = await client.put(
        f"/charges/{uuid.uuid4()}",
        content=b'{"amount_cents": 5,',
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.json()["title"] == "Malformed JSON"
