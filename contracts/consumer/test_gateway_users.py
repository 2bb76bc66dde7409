"""gateway -> users: what the gateway's /api/users routes and booking checks rely on."""

from __future__ import annotations

import pytest
from pact import Pact, match

from contracts.consumer.gateway import gateway_client
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON, PROBLEM_JSON, problem, timestamp, uuid

pytestmark = pytest.mark.contract

USER_ID = "6f1c2b8e-3d4a-4e5f-9a7b-1c2d3e4f5a60"
MISSING_ID = "0b7e4c1a-9d2f-4a3b-8c5d-6e7f8a9b0c1d"
EMAIL = "ann.smith@example.com"
USER = {
    "id": uuid(USER_ID),
    "email": match.str(EMAIL),
    "name": match.str("Ann Smith"),
    "created_at": timestamp("2030-05-01T10:00:00+00:00"),
}


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
    (
        pact.upon_receiving("a request for a user")
        .given("a user exists", id=USER_ID, email=EMAIL, name="Ann Smith")
        .with_request("GET", f"/users/{USER_ID}")
        .will_respond_with(200)
        .with_body(USER, content_type=JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(users=url) as gw:
            response = await gw.get(f"/api/users/{USER_ID}")
    assert response.status_code == 200
    assert response.json()["name"] == "Ann Smith"


async def test_unknown_user_is_not_found_for_the_client():
    pact = _pact()
    (
        pact.upon_receiving("a request for a user that does not exist")
        .given("no user has the id", id=MISSING_ID)
        .with_request("GET", f"/users/{MISSING_ID}")
        .will_respond_with(404)
        .with_body(problem(404, "Not Found"), content_type=PROBLEM_JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(users=url) as gw:
            response = await gw.get(f"/api/users/{MISSING_ID}")
    assert response.status_code == 404
    assert response.json()["status"] == 404
