"""Fixtures for bookings: stub downstreams on real sockets, the app, a probe on its events."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from typing import Any

import aio_pika
import httpx
import pytest
from conftest import app_client, eventually, serve
from sqlalchemy import create_engine, func, select

from system_under_test.bookings.app import MIGRATIONS, build_app
from system_under_test.bookings.clients import FacilitiesClient, PaymentsClient
from system_under_test.bookings.orm import metadata, outbox
from system_under_test.bookings.repository import SqlBookingRepository
from system_under_test.bookings.service import BookingService
from system_under_test.bookings.settings import BookingsSettings
from system_under_test.common.db import Database
from system_under_test.common.messaging import Broker
from system_under_test.common.outbox import EventPublisher
from system_under_test.common.resilience import Downstream
from system_under_test.common.uow import SqlUnitOfWork
from system_under_test.facilities.app import build_app as build_facilities
from system_under_test.facilities.settings import FacilitiesSettings
from system_under_test.payments.app import build_app as build_payments
from system_under_test.payments.settings import PaymentsSettings

from .stubs import FakeFacilities, FakePayments


@dataclass
class Downstreams:
    facilities: FakeFacilities
    payments: FakePayments
    facilities_url: str
    payments_url: str


@pytest.fixture
async def downstreams() -> AsyncIterator[Downstreams]:
    facilities, payments = FakeFacilities(), FakePayments()
    async with serve(facilities.app()) as f_url, serve(payments.app()) as p_url:
        yield Downstreams(facilities, payments, f_url, p_url)


@pytest.fixture
def bookings_database_url(make_database_url) -> str:
    """A fresh database per test; a module may share one by overriding this fixture."""
    return make_database_url()


@pytest.fixture
def settings_for(
    bookings_database_url, broker_namespace, amqp_url, downstreams
) -> Callable[..., BookingsSettings]:
    """Settings with short timeouts and backoffs."""
    database_url = bookings_database_url

    def make(**overrides: Any) -> BookingsSettings:
        values: dict[str, Any] = {
            "database_url": database_url,
            "amqp_url": amqp_url,
            "namespace": broker_namespace.name,
            "facilities_url": downstreams.facilities_url,
            "payments_url": downstreams.payments_url,
            "http_timeout_s": 0.3,
            "retry_attempts": 2,
            "retry_backoff_s": 0.01,
            "breaker_threshold": 1000,
            "saga_retry_backoff_s": 0.05,
            "saga_retry_cap_s": 0.2,
            "saga_budget_s": 3.0,
            "recovery_interval_s": 0.1,
            "recovery_idle_s": 0.3,
            "log_level": "WARNING",
            "outbox_poll_s": 0.2,
        }
        values.update(overrides)
        return BookingsSettings(**values)

    return make


@pytest.fixture
async def events(broker_namespace, amqp_url) -> AsyncIterator[aio_pika.abc.AbstractQueue]:
    """A private queue bound to every `booking.*` event of the test's namespace.

    Declared before the service starts: the outbox publishes with `mandatory`, so events need
    somewhere to go.
    """
    connection = await aio_pika.connect(amqp_url)
    async with connection:
        channel = await connection.channel()
        exchange = await channel.declare_exchange(
            f"{broker_namespace.name}.events", aio_pika.ExchangeType.TOPIC, durable=True
        )
        name = f"{broker_namespace.name}.{broker_namespace.track('bookings_probe')}"
        queue = await channel.declare_queue(name, exclusive=True)
        await queue.bind(exchange, routing_key="booking.*")
        yield queue


@pytest.fixture
def start_bookings(settings_for, events):
    """`async with start_bookings(**overrides) as client:` the bookings app, ready."""

    @contextlib.asynccontextmanager
    async def start(**overrides: Any) -> AsyncIterator[httpx.AsyncClient]:
        settings = settings_for(**overrides)
        app = build_app(settings)
        async with app_client(app) as client:
            await eventually(lambda: _ready(client))
            client.app = app  # type: ignore[attr-defined]
            yield client
            await eventually(lambda: _all_published(settings.database_url))

    return start


@pytest.fixture
async def bookings(start_bookings) -> AsyncIterator[httpx.AsyncClient]:
    async with start_bookings() as client:
        yield client


def _all_published(database_url: str) -> bool:
    engine = create_engine(database_url)
    try:
        with engine.connect() as conn:
            pending = conn.scalar(
                select(func.count()).select_from(outbox).where(outbox.c.published_at.is_(None))
            )
        return pending == 0
    finally:
        engine.dispose()


async def _ready(client: httpx.AsyncClient) -> bool:
    return (await client.get("/ready")).status_code == 200


@pytest.fixture
def service_for(settings_for):
    """`async with service_for(facilities=..., payments=...) as service:` a BookingService
    without the app (no recovery loop), as a fresh process would build it."""

    @contextlib.asynccontextmanager
    async def make(
        wrap_facilities: Callable[[Any], Any] = lambda c: c,
        wrap_payments: Callable[[Any], Any] = lambda c: c,
        **overrides: Any,
    ) -> AsyncIterator[BookingService]:
        settings = settings_for(**overrides)
        db = Database(settings.database_url, metadata, MIGRATIONS)
        await db.start()
        facilities = Downstream("facilities", settings.facilities_url, settings)
        payments = Downstream("payments", settings.payments_url, settings)
        publisher = EventPublisher(settings, Broker(settings), outbox)
        try:
            yield BookingService(
                SqlUnitOfWork(db, SqlBookingRepository, publisher),
                wrap_facilities(FacilitiesClient(facilities)),
                wrap_payments(PaymentsClient(payments)),
                settings,
            )
        finally:
            await facilities.aclose()
            await payments.aclose()
            await db.stop()

    return make


@dataclass
class Real:
    """The real facilities and payments services, each on its own database."""

    facilities: httpx.AsyncClient
    payments: httpx.AsyncClient
    facility_id: str

    @property
    def urls(self) -> dict[str, str]:
        return {
            "facilities_url": str(self.facilities.base_url).rstrip("/"),
            "payments_url": str(self.payments.base_url).rstrip("/"),
        }


@contextlib.asynccontextmanager
async def ready_server(app) -> AsyncIterator[httpx.AsyncClient]:
    """`app` on a real uvicorn, once it answers /ready; a client to it."""
    async with serve(app) as url, httpx.AsyncClient(base_url=url, timeout=30.0) as client:
        await eventually(lambda: _ready(client))
        yield client


@pytest.fixture
async def real(make_database_url) -> AsyncIterator[Real]:
    facilities_app = build_facilities(
        FacilitiesSettings(database_url=make_database_url(), log_level="WARNING")
    )
    payments_app = build_payments(
        PaymentsSettings(database_url=make_database_url(), log_level="WARNING")
    )
    async with ready_server(facilities_app) as f, ready_server(payments_app) as p:
        created = await f.post("/facilities", json={"name": "Chapel of Rest", "capacity": 80})
        assert created.status_code == 201
        yield Real(f, p, created.json()["id"])
