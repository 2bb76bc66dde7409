"""The gateway when downstreams fail: stale facility list, fast 503 with Retry-After,
breaker, timeouts, readiness. Downstreams are real HTTP servers the test controls."""

from __future__ import annotations

import contextlib
import time
import uuid

import pytest
from conftest import app_client, eventually

from system_under_test.gateway.app import build_app

from .stubs import Stub, auth_header, facility, gateway_settings, served

pytestmark = pytest.mark.integration


async def test_facility_list_is_served_stale_while_facilities_is_down():
    stub = Stub(routes={"GET /facilities": (200, [facility("Chapel"), facility("Hall")])})
    # TTL 0: every read goes to facilities, so only the fallback can answer once it is gone.
    settings_kwargs = {"facilities_cache_ttl_s": 0.0, "retry_attempts": 1}
    async with served(stub) as url:
        settings = gateway_settings(facilities_url=url, **settings_kwargs)
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            fresh = await gateway.get("/api/facilities")
            assert fresh.status_code == 200
            assert fresh.json()["stale"] is False
            assert "warning" not in fresh.headers
            stub.mode = "fail"
            stale = await gateway.get("/api/facilities")
    assert stale.status_code == 200
    assert stale.headers["warning"] == '110 - "Response is Stale"'
    assert stale.json() == {**fresh.json(), "stale": True}
    assert [f["name"] for f in stale.json()["items"]] == ["Chapel", "Hall"]


async def test_stale_list_survives_the_facilities_process_going_away():
    stub = Stub(routes={"GET /facilities": (200, [facility()])})
    async with contextlib.AsyncExitStack() as stack:
        async with served(stub) as url:
            settings = gateway_settings(facilities_url=url, facilities_cache_ttl_s=0.0)
            gateway = await stack.enter_async_context(
                app_client(build_app(settings), headers=auth_header())
            )
            assert (await gateway.get("/api/facilities")).json()["stale"] is False
        # The listener is closed now: connection refused.
        response = await gateway.get("/api/facilities")
    assert response.status_code == 200
    assert response.json()["stale"] is True
    assert response.headers["warning"] == '110 - "Response is Stale"'


async def test_no_cached_list_and_facilities_down_is_503_with_retry_after():
    async with app_client(build_app(gateway_settings()), headers=auth_header()) as gateway:
        started = time.monotonic()
        response = await gateway.get("/api/facilities")
    assert response.status_code == 503
    assert response.headers["content-type"] == "application/problem+json"
    assert int(response.headers["retry-after"]) >= 1
    assert time.monotonic() - started < 2


async def test_a_new_facility_is_listed_at_once_despite_the_cache():
    created = facility("New")
    stub = Stub(routes={"GET /facilities": (200, []), "POST /facilities": (201, created)})
    async with served(stub) as url:
        settings = gateway_settings(facilities_url=url, facilities_cache_ttl_s=60)
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            assert (await gateway.get("/api/facilities")).json()["items"] == []
            stub.routes["GET /facilities"] = (200, [created])
            response = await gateway.post("/api/facilities", json={"name": "New", "capacity": 5})
            assert response.status_code == 201
            assert (await gateway.get("/api/facilities")).json()["items"] == [created]


async def test_hanging_downstream_times_out_into_503_not_a_hang():
    stub = Stub(mode="hang")
    async with served(stub) as url:
        settings = gateway_settings(users_url=url, http_timeout_s=0.2, retry_attempts=2)
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            started = time.monotonic()
            response = await gateway.get(f"/api/users/{uuid.uuid4()}")
            elapsed = time.monotonic() - started
    assert response.status_code == 503
    assert "retry-after" in response.headers
    assert elapsed < 1.5
    assert len(stub.hits) == 2, "an idempotent GET is retried once more"


async def test_open_breaker_answers_fast_without_calling_downstream():
    stub = Stub(mode="fail")
    async with served(stub) as url:
        settings = gateway_settings(
            users_url=url, retry_attempts=1, breaker_threshold=2, breaker_recovery_s=30
        )
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            for _ in range(2):
                assert (await gateway.get(f"/api/users/{uuid.uuid4()}")).status_code == 503
            calls = len(stub.hits)
            response = await gateway.get(f"/api/users/{uuid.uuid4()}")
    assert response.status_code == 503
    assert "breaker open" in response.json()["detail"]
    assert int(response.headers["retry-after"]) > 1
    assert len(stub.hits) == calls


async def test_non_idempotent_post_is_not_retried():
    stub = Stub(mode="fail")
    async with served(stub) as url:
        settings = gateway_settings(users_url=url, retry_attempts=3)
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            response = await gateway.post("/api/users", json={"email": "a@b.co", "name": "A"})
    assert response.status_code == 503
    assert stub.hits == ["POST /users"]


async def test_downstream_problem_is_passed_through():
    conflict = {"type": "about:blank", "title": "Email taken", "status": 409, "detail": "taken"}
    stub = Stub(routes={"POST /users": (409, conflict)})
    async with served(stub) as url:
        settings = gateway_settings(users_url=url)
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            response = await gateway.post("/api/users", json={"email": "a@b.co", "name": "A"})
    assert response.status_code == 409
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json() == conflict


async def test_booking_post_forwards_the_idempotency_key_and_checks_ids():
    user_id, facility_id, booking_id = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    booking = {"id": str(booking_id), "status": "pending", "reason": None}
    stub = Stub(
        routes={
            f"GET /users/{user_id}": (200, {"id": str(user_id)}),
            f"GET /facilities/{facility_id}": (200, {"id": str(facility_id)}),
            "POST /bookings": (202, booking),
        }
    )
    async with served(stub) as url:
        settings = gateway_settings(users_url=url, facilities_url=url, bookings_url=url)
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            body = {
                "user_id": str(user_id),
                "facility_id": str(facility_id),
                "starts_at": "2030-05-01T10:00:00+02:00",
                "ends_at": "2030-05-01T12:00:00+02:00",
                "amount_cents": 100,
                "payment_method": "pm_card_visa",
            }
            accepted = await gateway.post(
                "/api/bookings", json=body, headers={"Idempotency-Key": "k-1"}
            )
            unknown = await gateway.post(
                "/api/bookings",
                json={**body, "user_id": str(uuid.uuid4())},
                headers={"Idempotency-Key": "k-2"},
            )
    assert accepted.status_code == 202
    assert accepted.json() == booking
    forwarded = next(r for r in stub.received if r["key"] == "POST /bookings")
    assert forwarded["headers"]["idempotency-key"] == "k-1"
    assert unknown.status_code == 422
    assert "user_id" in unknown.json()["detail"]
    assert [r["key"] for r in stub.received].count("POST /bookings") == 1


async def test_ids_seen_to_exist_are_not_looked_up_again_unknown_ones_always_are():
    user_id, facility_id = uuid.uuid4(), uuid.uuid4()
    stub = Stub(
        routes={
            f"GET /users/{user_id}": (200, {"id": str(user_id)}),
            f"GET /facilities/{facility_id}": (200, {"id": str(facility_id)}),
            "POST /bookings": (201, {"id": str(uuid.uuid4()), "status": "confirmed"}),
        }
    )
    body = {
        "user_id": str(user_id),
        "facility_id": str(facility_id),
        "starts_at": "2030-05-01T10:00:00+00:00",
        "ends_at": "2030-05-01T12:00:00+00:00",
        "amount_cents": 100,
        "payment_method": "pm_card_visa",
    }
    async with served(stub) as url:
        settings = gateway_settings(users_url=url, facilities_url=url, bookings_url=url)
        async with app_client(build_app(settings), headers=auth_header()) as gateway:
            for key in ("a", "b", "c"):
                answer = await gateway.post(
                    "/api/bookings", json=body, headers={"Idempotency-Key": key}
                )
                assert answer.status_code == 201
            stranger = {**body, "user_id": str(uuid.uuid4())}
            for key in ("d", "e"):
                answer = await gateway.post(
                    "/api/bookings", json=stranger, headers={"Idempotency-Key": key}
                )
                assert answer.status_code == 422
    hits = [r["key"] for r in stub.received]
    assert hits.count(f"GET /users/{user_id}") == hits.count(f"GET /facilities/{facility_id}") == 1
    assert hits.count(f"GET /users/{stranger['user_id']}") == 2
    assert hits.count("POST /bookings") == 3


async def test_ready_reflects_downstream_health():
    stub = Stub()
    async with served(stub) as url:
        downstreams = ("users", "facilities", "bookings", "payments", "notifications")
        settings = gateway_settings(**{f"{name}_url": url for name in downstreams})
        async with app_client(build_app(settings)) as gateway:
            ready = await gateway.get("/ready")
            assert ready.status_code == 200
            assert ready.json()["checks"] == dict.fromkeys(downstreams, True)
            stub.mode = "fail"
            await eventually(lambda: _not_ready(gateway))


async def _not_ready(gateway) -> bool:
    response = await gateway.get("/ready")
    return response.status_code == 503 and response.json()["status"] == "not ready"
