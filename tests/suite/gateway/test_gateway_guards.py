"""The gateway's own answers: tokens, 401 without one, rate limit, bad input, open routes."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from conftest import app_client

from system_under_test.gateway import tokens
from system_under_test.gateway.app import build_app
from system_under_test.gateway.auth import TOKEN_URL

from .stubs import SECRET, auth_header, gateway_settings

pytestmark = pytest.mark.integration
PROBLEM = "application/problem+json"
HTTP_METHODS = {"GET", "PUT", "POST", "DELETE", "PATCH", "HEAD", "OPTIONS"}


@pytest.fixture
async def gateway():
    async with app_client(build_app(gateway_settings())) as client:
        yield client


def valid_booking(**overrides):
    body = {
        "user_id": str(uuid.uuid4()),
        "facility_id": str(uuid.uuid4()),
        "starts_at": "2030-05-01T10:00:00+00:00",
        "ends_at": "2030-05-01T12:00:00+00:00",
        "amount_cents": 25000,
        "payment_method": "pm_card_visa",
    }
    return {**body, **overrides}


async def test_demo_credentials_get_a_token_that_opens_the_api(gateway):
    response = await gateway.post("/api/auth/token", data={"username": "demo", "password": "demo"})
    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert tokens.subject_of(body["access_token"], SECRET) == "demo"
    assert body["expires_in"] > 0


@pytest.mark.parametrize(
    "form", [{"username": "demo", "password": "wrong"}, {"username": "root", "password": "demo"}]
)
async def test_bad_credentials_are_401_problem(gateway, form):
    response = await gateway.post("/api/auth/token", data=form)
    assert response.status_code == 401
    assert response.headers["content-type"] == PROBLEM
    assert response.json()["status"] == 401


async def test_token_form_without_fields_is_422(gateway):
    response = await gateway.post("/api/auth/token", data={"username": "demo"})
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


def guarded_operations() -> list[tuple[str, str]]:
    """Every method of every `/api` path the gateway serves but the token route, as the app's
    own OpenAPI document lists them (the document the 405 `Allow` header is built from too):
    a route added later is guarded here without anyone listing it."""
    paths = build_app(gateway_settings()).openapi()["paths"]
    operations = [
        (method.upper(), path)
        for path, item in paths.items()
        if path.startswith("/api/") and path != TOKEN_URL
        for method in item
        if method.upper() in HTTP_METHODS
    ]
    assert len(operations) >= 10  # the app's routes were really read
    return operations


@pytest.mark.parametrize(("method", "template"), guarded_operations())
async def test_every_api_route_needs_a_bearer_token(gateway, method, template):
    path = re.sub(r"\{[^}]+\}", str(uuid.uuid4()), template)
    response = await gateway.request(method, path, json={})
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"
    assert response.headers["content-type"] == PROBLEM


@pytest.mark.parametrize(
    "token",
    [
        "not-a-jwt",
        tokens.issue("demo", "a-different-signing-key-of-32-bytes", 300),
        tokens.issue("demo", SECRET, 60, now=datetime.now(UTC) - timedelta(hours=1)),
    ],
    ids=["garbage", "foreign-signature", "expired"],
)
async def test_invalid_tokens_are_401(gateway, token):
    response = await gateway.get(
        f"/api/users/{uuid.uuid4()}", headers={"Authorization": f"Bearer {token}"}
    )
    assert response.status_code == 401
    assert response.headers["www-authenticate"] == "Bearer"


async def test_health_metrics_and_openapi_are_open(gateway):
    assert (await gateway.get("/health")).json() == {"status": "ok"}
    assert (await gateway.get("/metrics")).status_code == 200
    schema = (await gateway.get("/openapi.json")).json()
    assert "OAuth2PasswordBearer" in schema["components"]["securitySchemes"]
    assert "/api/bookings/{booking_id}/details" in schema["paths"]


@pytest.mark.parametrize(
    "overrides",
    [
        {"user_id": "42"},
        {"facility_id": "not-a-uuid"},
        {"amount_cents": -100},
        {"amount_cents": 0},
        {"starts_at": "2030-05-01T10:00:00"},
        {"ends_at": "2030-05-01T09:00:00+00:00"},
        {"starts_at": "soon"},
        {"starts_at": 0},
        {"payment_method": ""},
    ],
)
async def test_bad_booking_bodies_are_422_before_any_downstream_call(gateway, overrides):
    # Downstreams point at closed ports: reaching them would answer 503, not 422.
    response = await gateway.post(
        "/api/bookings",
        json=valid_booking(**overrides),
        headers={**auth_header(), "Idempotency-Key": "k1"},
    )
    assert response.status_code == 422
    assert response.headers["content-type"] == PROBLEM


async def test_booking_without_idempotency_key_is_422(gateway):
    response = await gateway.post("/api/bookings", json=valid_booking(), headers=auth_header())
    assert response.status_code == 422
    assert "Idempotency-Key" in response.json()["detail"]


async def test_malformed_json_is_400(gateway):
    response = await gateway.post(
        "/api/users",
        content=b'{"email": "a@b.c", ',
        headers={**auth_header(), "content-type": "application/json"},
    )
    assert response.status_code == 400
    assert response.headers["content-type"] == PROBLEM


async def test_oversized_body_is_413(gateway):
    response = await gateway.post(
        "/api/users",
        json={"email": "a@b.c", "name": "x" * 100_000},
        headers=auth_header(),
    )
    assert response.status_code == 413
    assert response.headers["content-type"] == PROBLEM


async def test_ids_that_are_not_ids_are_422(gateway):
    for path in ("/api/users/42", "/api/facilities/x", "/api/bookings/1/details"):
        response = await gateway.get(path, headers=auth_header())
        assert response.status_code == 422, path


async def test_rate_limit_answers_429_with_retry_after():
    settings = gateway_settings(rate_limit_rps=0.5, rate_limit_burst=2)
    async with app_client(build_app(settings)) as gateway:
        headers = auth_header()
        statuses = [
            (await gateway.get("/api/users/42", headers=headers)).status_code for _ in range(3)
        ]
        assert statuses == [422, 422, 429]
        limited = await gateway.get("/api/users/42", headers=headers)
        assert limited.status_code == 429
        assert limited.headers["content-type"] == PROBLEM
        assert int(limited.headers["retry-after"]) >= 1
        # Another subject has its own bucket.
        other = {"Authorization": f"Bearer {tokens.issue('someone', SECRET, 300)}"}
        assert (await gateway.get("/api/users/42", headers=other)).status_code == 422


async def test_the_token_route_is_rate_limited_by_address():
    # A password-guessing flood is what this limit is for: it holds without any token.
    settings = gateway_settings(rate_limit_rps=0.5, rate_limit_burst=2)
    async with app_client(build_app(settings)) as gateway:
        guess = {"username": "demo", "password": "guess"}
        statuses = [
            (await gateway.post("/api/auth/token", data=guess)).status_code for _ in range(3)
        ]
        assert statuses == [401, 401, 429]
        limited = await gateway.post(
            "/api/auth/token", data={"username": "demo", "password": "demo"}
        )
        assert limited.status_code == 429
        assert limited.headers["content-type"] == PROBLEM
        assert int(limited.headers["retry-after"]) >= 1


async def test_method_not_allowed_lists_every_method_of_the_path(gateway):
    response = await gateway.request("DELETE", "/api/facilities", headers=auth_header())
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, POST"


@pytest.mark.parametrize("day", ["0", "2030-02-31", "1850-01-01", "01/05/2030"])
async def test_availability_needs_a_calendar_date(gateway, day):
    response = await gateway.get(
        f"/api/facilities/{uuid.uuid4()}/availability", params={"date": day}, headers=auth_header()
    )
    assert response.status_code == 422


@pytest.mark.parametrize("name", ["\x16R\x1e.", " \t ", "a\x00b"])
async def test_names_with_control_characters_are_422(gateway, name):
    response = await gateway.post(
        "/api/facilities", json={"name": name, "capacity": 1}, headers=auth_header()
    )
    assert response.status_code == 422


@pytest.mark.parametrize("capacity", [True, "1", 1.5])
async def test_integers_are_json_integers(gateway, capacity):
    # The schema says `type: integer`: no boolean or numeric string is read as one.
    response = await gateway.post(
        "/api/facilities", json={"name": "Hall", "capacity": capacity}, headers=auth_header()
    )
    assert response.status_code == 422
    assert "capacity" in response.json()["detail"]
