"""gateway -> users: what the gateway's /api/users routes rely on."""

from __future__ import annotations

import pytest
from pact import Pact

from contracts.consumer.expectations import (
    EMAIL,
    MISSING_USER_ID,
    USER,
    USER_ID,
    booking_request,
    facility_exists,
    user_exists,
    user_missing,
)
from contracts.consumer.gateway import gateway_client
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON, PROBLEM_JSON, problem

pytestmark = pytest.mark.contract


def _pact() -> Pact:
    return Pact("gateway", "users")


async def test_create_user_relays_the_new_account():
    pact = _pact()
    (
        pact.upon_receiving("a request to create a user")
        .given("no user has the email", email=EMAIL)
        .with_request("POST", "/users")
        .with_body({"email": EMAIL, "name": "Ann Smith"}, content_type=JSON)
        .will_respond_with(201)
        .with_body(USER, content_type=JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(users=url) as gw:
            response = await gw.post("/api/users", json={"email": EMAIL, "name": "Ann Smith"})
    assert response.status_code == 201
    assert response.json()["id"] == USER_ID
    assert response.json()["email"] == EMAIL


async def test_taken_email_is_a_conflict_for_the_client():
    pact = _pact()
    (
        pact.upon_receiving("a request to create a user with a taken email")
        .given("a user exists", id=USER_ID, email=EMAIL, name="Ann Smith")
        .with_request("POST", "/users")
        .with_body({"email": EMAIL, "name": "Another Ann"}, content_type=JSON)
        .will_respond_with(409)
        .with_body(problem(409, "Conflict"), content_type=PROBLEM_JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(users=url) as gw:
            response = await gw.post("/api/users", json={"email": EMAIL, "name": "Another Ann"})
    assert response.status_code == 409
    assert response.headers["content-type"].startswith(PROBLEM_JSON)
    assert response.json()["title"] == "Conflict"


async def test_get_user_relays_the_account():
    pact = _pact()
    user_exists(pact)
    with mock_provider(pact) as url:
        async with gateway_client(users=url) as gw:
            response = await gw.get(f"/api/users/{USER_ID}")
    assert response.status_code == 200
    assert response.json()["name"] == "Ann Smith"


async def test_unknown_user_is_not_found_for_the_client():
    pact = _pact()
    user_missing(pact)
    with mock_provider(pact) as url:
        async with gateway_client(users=url) as gw:
            response = await gw.get(f"/api/users/{MISSING_USER_ID}")
    assert response.status_code == 404
    assert response.json()["status"] == 404


async def test_booking_for_an_unknown_user_is_refused_before_bookings_is_called():
    users, facilities = _pact(), Pact("gateway", "facilities")
    user_missing(users)
    facility_exists(facilities)
    body = booking_request(user_id=MISSING_USER_ID)
    with mock_provider(users) as users_url, mock_provider(facilities) as facilities_url:
        async with gateway_client(users=users_url, facilities=facilities_url) as gw:
            response = await gw.post(
                "/api/bookings", json=body, headers={"Idempotency-Key": "pact-unknown-user"}
            )
    assert response.status_code == 422
    assert "user_id" in response.json()["detail"]


async def test_users_outage_is_a_503_the_client_may_retry():
    pact = _pact()
    (
        pact.upon_receiving("a request for a user while the users database is away")
        .given("the database is unavailable")
        .with_request("GET", f"/users/{USER_ID}")
        .will_respond_with(503)
    )
    with mock_provider(pact) as url:
        async with gateway_client(users=url) as gw:
            response = await gw.get(f"/api/users/{USER_ID}")
    assert response.status_code == 503
    assert int(response.headers["Retry-After"]) >= 1
    assert response.json()["title"] == "Downstream unavailable"
