"""The app factory: problem bodies for every kind of bad input, health/readiness/metrics,
correlation ids, and the lifespan wiring database, broker, relay, consumers and tasks."""

import asyncio

import httpx
import pytest
from fastapi import APIRouter, FastAPI
from pydantic import BaseModel, Field

from system_under_test.common.app import Consumer, ServiceParts, create_app
from system_under_test.common.events import make_event
from system_under_test.common.inbox import first_delivery
from system_under_test.common.problems import ProblemError, problem_responses
from system_under_test.common.resilience import DownstreamTimeout, DownstreamUnavailable
from system_under_test.common.settings import ServiceSettings

from .sample_service.orm import MIGRATIONS, metadata, widgets

pytestmark = pytest.mark.integration


class Item(BaseModel):
    name: str
    qty: int = Field(gt=0)


router = APIRouter()


@router.post("/items", status_code=201)
async def create_item(item: Item) -> Item:
    return item


@router.get("/boom")
async def boom() -> None:
    raise RuntimeError("secret internals")


@router.get("/down", responses=problem_responses(503))
async def down() -> None:
    raise DownstreamUnavailable("payments", "circuit breaker open", retry_after=2.2)


@router.get("/slow-downstream")
async def slow_downstream() -> None:
    raise DownstreamTimeout("payments", "timed out")


@router.get("/taken", responses=problem_responses(409))
async def taken() -> None:
    raise ProblemError(409, "Slot unavailable", "someone else holds it")


@pytest.fixture
async def client(asgi_client):
    app = create_app(
        ServiceSettings(name="plain", max_body_bytes=1024), ServiceParts(routers=[router])
    )
    async with asgi_client(app) as client:
        yield client


def assert_problem(response: httpx.Response, status: int) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert body["status"] == status and body["title"] and body["type"]
    return body


async def test_valid_request_passes(client):
    response = await client.post("/items", json={"name": "urn", "qty": 2})
    assert response.status_code == 201 and response.json() == {"name": "urn", "qty": 2}


async def test_malformed_json_is_400(client):
    response = await client.post(
        "/items", content=b'{"name": ', headers={"content-type": "application/json"}
    )
    assert_problem(response, 400)


async def test_validation_error_is_422_with_the_field_named(client):
    body = assert_problem(await client.post("/items", json={"name": "urn", "qty": -1}), 422)
    assert "qty" in body["detail"]


async def test_oversized_body_is_413_with_or_without_content_length(client):
    big = {"name": "x" * 2000, "qty": 1}
    assert_problem(await client.post("/items", json=big), 413)

    async def chunks():
        for _ in range(4):
            yield b"x" * 512

    chunked = await client.post(
        "/items", content=chunks(), headers={"content-type": "application/json"}
    )
    assert_problem(chunked, 413)


async def test_unknown_route_and_wrong_method(client):
    assert_problem(await client.get("/nowhere"), 404)
    assert_problem(await client.delete("/items"), 405)


async def test_unexpected_error_is_a_500_problem_without_internals(client):
    body = assert_problem(await client.get("/boom"), 500)
    assert "secret" not in str(body) and "Traceback" not in str(body)


async def test_downstream_failures_are_503_with_retry_after(client):
    response = await client.get("/down")
    assert_problem(response, 503)
    assert response.headers["retry-after"] == "3"
    timed_out = await client.get("/slow-downstream")
    assert_problem(timed_out, 503)
    assert int(timed_out.headers["retry-after"]) >= 1


async def test_problem_error_keeps_its_status_and_title(client):
    body = assert_problem(await client.get("/taken"), 409)
    assert body["title"] == "Slot unavailable" and body["detail"] == "someone else holds it"


async def test_correlation_id_is_echoed_or_generated(client):
    echoed = await client.get("/health", headers={"X-Correlation-ID": "abc-1"})
    assert echoed.headers["x-correlation-id"] == "abc-1"
    generated = await client.get("/health")
    assert len(generated.headers["x-correlation-id"]) >= 16


async def test_health_ready_and_metrics(client):
    assert (await client.get("/health")).json() == {"status": "ok"}
    assert (await client.get("/ready")).json() == {"status": "ready", "checks": {}}
    await client.post("/items", json={"name": "urn", "qty": 1})
    metrics = (await client.get("/metrics")).text
    assert (
        'http_requests_total{method="POST",route="/items",service="plain",status="201"}' in metrics
    )
    assert "http_request_duration_seconds_bucket" in metrics


async def test_openapi_documents_problem_bodies_and_hides_operational_routes(client):
    schema = (await client.get("/openapi.json")).json()
    assert "/health" not in schema["paths"] and "/metrics" not in schema["paths"]
    post = schema["paths"]["/items"]["post"]["responses"]
    for status in ("400", "413", "422", "503"):
        assert list(post[status]["content"]) == ["application/problem+json"]
    assert "Problem" in schema["components"]["schemas"]
    assert "HTTPValidationError" not in schema["components"]["schemas"]


async def test_service_starts_without_broker_and_reports_not_ready(
    make_database_url, asgi_client, settings_for
):
    settings = settings_for(
        database_url=make_database_url(), amqp_url="amqp://guest:guest@127.0.0.1:1/"
    )
    app = create_app(
        settings, ServiceParts(metadata=metadata, migrations_dir=MIGRATIONS, messaging=True)
    )
    async with asgi_client(app) as client:
        assert (await client.get("/health")).status_code == 200
        ready = await client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["checks"] == {"database": True, "broker": False}


async def test_lifespan_wires_outbox_relay_consumer_inbox_and_background_tasks(
    make_database_url, asgi_client, settings_for, broker_namespace, wait_until
):
    broker_namespace.track("widgets")
    deliveries: list[str] = []
    handled: list[str] = []
    ticks: list[int] = []

    async def on_widget(app: FastAPI, event: dict) -> None:
        async with app.state.db.transaction() as conn:
            if await first_delivery(conn, event["event_id"], "widgets"):
                handled.append(event["data"]["name"])
        deliveries.append(event["event_id"])

    async def ticker(app: FastAPI) -> None:
        while True:
            ticks.append(1)
            await asyncio.sleep(0.01)

    settings = settings_for(database_url=make_database_url())
    parts = ServiceParts(
        metadata=metadata,
        migrations_dir=MIGRATIONS,
        messaging=True,
        consumers=[Consumer("widgets", ["widget.*"], on_widget)],
        background=[ticker],
    )
    app = create_app(settings, parts)
    async with asgi_client(app) as client:
        await wait_until(lambda: app.state.broker.ready, within_s=10)
        assert (await client.get("/ready")).json()["checks"] == {"database": True, "broker": True}
        event = make_event("widget.created", {"name": "candle"})
        async with app.state.db.transaction() as conn:
            await conn.execute(widgets.insert().values(name="candle"))
            await app.state.publisher.emit(conn, event)
        # A redelivery of the same event must not be handled twice.
        await app.state.broker.publish(event)
        await wait_until(lambda: len(deliveries) == 2, within_s=10)
        assert deliveries == [event["event_id"]] * 2
        assert handled == ["candle"]
        await wait_until(lambda: len(ticks) > 1, within_s=5)
