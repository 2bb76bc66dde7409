"""payments' service layer without a database: a booking is charged at most once, a decline is
recorded and may be retried, a refund that comes first voids the booking."""

from __future__ import annotations

import asyncio
import uuid

import pytest
from fakes import FakeUnitOfWork

from system_under_test.payments.domain import (
    ChargeMismatch,
    ChargeNotFound,
    ChargeVoided,
    PaymentDeclined,
    Status,
    UnknownPaymentMethod,
)
from system_under_test.payments.service import PaymentsService

from .fakes import FakePaymentsRepository

pytestmark = pytest.mark.unit
VISA, DECLINED = "pm_card_visa", "pm_card_chargeDeclined"


@pytest.fixture
def repo() -> FakePaymentsRepository:
    return FakePaymentsRepository()


@pytest.fixture
def service(repo) -> PaymentsService:
    return PaymentsService(FakeUnitOfWork(repo))


async def test_a_charge_is_captured_once_and_replayed(service):
    booking = uuid.uuid4()
    first = await service.charge(booking, 25_000, VISA)
    again = await service.charge(booking, 25_000, VISA)
    assert first.created and not again.created
    assert again.charge == first.charge and first.charge.status is Status.CAPTURED
    assert await service.attempts(booking) == ["captured"]
    with pytest.raises(ChargeMismatch):
        await service.charge(booking, 99, VISA)


async def test_a_decline_is_recorded_and_a_retry_with_another_card_captures(service):
    booking = uuid.uuid4()
    with pytest.raises(PaymentDeclined) as declined:
        await service.charge(booking, 25_000, DECLINED)
    assert declined.value.decline_code == "card_declined"
    assert (await service.get(booking)).status is Status.DECLINED
    retried = await service.charge(booking, 25_000, VISA)
    assert retried.charge.status is Status.CAPTURED
    assert retried.charge.id == (await service.get(booking)).id
    assert await service.attempts(booking) == ["declined", "captured"]


async def test_a_refund_before_any_charge_voids_the_booking_so_a_late_charge_is_refused(service):
    booking = uuid.uuid4()
    assert (await service.refund(booking)).status is Status.VOIDED
    with pytest.raises(ChargeVoided):
        await service.charge(booking, 25_000, VISA)
    assert (await service.refund(booking)).status is Status.VOIDED  # idempotent
    assert await service.attempts(booking) == []


async def test_a_refund_of_a_capture_is_idempotent(service):
    booking = uuid.uuid4()
    await service.charge(booking, 25_000, VISA)
    assert (await service.refund(booking)).status is Status.REFUNDED
    assert (await service.refund(booking)).status is Status.REFUNDED
    assert (await service.get(booking)).amount_cents == 25_000


async def test_an_unknown_method_is_refused_before_anything_is_written(service, repo):
    with pytest.raises(UnknownPaymentMethod):
        await service.charge(uuid.uuid4(), 25_000, "pm_card_unheardof")
    assert repo.charges == {} and repo.attempted == []
    with pytest.raises(ChargeNotFound):
        await service.get(uuid.uuid4())


async def test_dozens_of_charges_of_one_booking_in_flight_capture_once(service, repo):
    booking = uuid.uuid4()
    results = await asyncio.gather(*(service.charge(booking, 25_000, VISA) for _ in range(30)))
    assert [r.created for r in results].count(True) == 1
    assert {r.charge.id for r in results} == {repo.charges[booking].id}
    assert await service.attempts(booking) == ["captured"]
