"""gateway -> facilities: the facility routes, the cached list, and availability."""

from __future__ import annotations

import pytest
from pact import Pact, match

from contracts.consumer.expectations import (
    DAY,
    ENDS_AT,
    FACILITY,
    FACILITY_ID,
    FACILITY_STATE,
    MISSING_FACILITY_ID,
    OTHER_BOOKING_ID,
    STARTS_AT,
    facility_exists,
    facility_missing,
)
from contracts.consumer.gateway import gateway_client
from contracts.consumer.mock import mock_provider
from contracts.consumer.shapes import JSON, day, timestamp, uuid
from system_under_test.gateway.api import FACILITY_LIST_LIMIT

pytestmark = pytest.mark.contract


def _pact() -> Pact:
    return Pact("gateway", "facilities")


async def test_create_facility_relays_the_new_facility():
    pact = _pact()
    (
        pact.upon_receiving("a request to create a facility")
        .given("no facilities exist")
        .with_request("POST", "/facilities")
        .with_body({"name": "Chapel of Rest", "capacity": 80}, content_type=JSON)
        .will_respond_with(201)
        .with_body(FACILITY, content_type=JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(facilities=url) as gw:
            response = await gw.post(
                "/api/facilities", json={"name": "Chapel of Rest", "capacity": 80}
            )
    assert response.status_code == 201
    assert response.json()["id"] == FACILITY_ID


async def test_facility_list_is_served_fresh_from_facilities():
    pact = _pact()
    (
        pact.upon_receiving("a request for the list of facilities")
        .given("a facility exists", **FACILITY_STATE)
        .with_request("GET", "/facilities")
        .with_query_parameter("limit", str(FACILITY_LIST_LIMIT))
        .will_respond_with(200)
        .with_body(match.each_like(FACILITY), content_type=JSON)
    )
    with mock_provider(pact) as url:
        async with gateway_client(facilities=url) as gw:
            response = await gw.get("/api/facilities")
    assert response.status_code == 200
    body = response.json()
    assert body["stale"] is False
    assert [f["id"] for f in body["items"]] == [FACILITY_ID]


async def test_get_facility_relays_it():
    pact = _pact()
    facility_exists(pact)
    with mock_provider(pact) as url:
        async with gateway_client(facilities=url) as gw:
            response = await gw.get(f"/api/facilities/{FACILITY_ID}")
    assert response.status_code == 200
    assert response.json()["capacity"] == 80


async def test_unknown_facility_is_not_found_for_the_client():
    pact = _pact()
    facility_missing(pact, "/facilities/{id}", "a request for a facility that does not exist")
    with mock_provider(pact) as url:
        async with gateway_client(facilities=url) as gw:
            response = await gw.get(f"/api/facilities/{MISSING_FACILITY_ID}")
    assert response.status_code == 404


async def test_availability_lists_the_reserved_slots():
    pact = _pact()
    (
        pact.upon_receiving("a request for a facility's availability on a day")
        .given(
            "a reservation is held",
            booking_id=OTHER_BOOKING_ID,
            facility_id=FACILITY_ID,
            starts_at=STARTS_AT,
            ends_at=ENDS_AT,
        )
        .with_request("GET", f"/facilities/{FACILITY_ID}/availability")
        .with_query_parameter("date", DAY)
        .will_respond_with(200)
        .with_body(
            {
                "facility_id": uuid(FACILITY_ID),
                "date": day(DAY),
                "reserved": match.each_like(
                    {
                        "booking_id": uuid(OTHER_BOOKING_ID),
                        "starts_at": timestamp(STARTS_AT),
                        "ends_at": timestamp(ENDS_AT),
                    }
                ),
            },
            content_type=JSON,
        )
    )
    with mock_provider(pact) as url:
        async with gateway_client(facilities=url) as gw:
            response = await gw.get(f"/api/facilities/{FACILITY_ID}/availability?date={DAY}")
    assert response.status_code == 200
    assert response.json()["reserved"][0]["booking_id"] == OTHER_BOOKING_ID


async def test_availability_of_an_unknown_facility_is_not_found():
    pact = _pact()
    facility_missing(
        pact,
        "/facilities/{id}/availability",
        "a request for the availability of a facility that does not exist",
        query={"date": DAY},
    )
    with mock_provider(pact) as url:
        async with gateway_client(facilities=url) as gw:
            response = await gw.get(
                f"/api/facilities/{MISSING_FACILITY_ID}/availability?date={DAY}"
            )
    assert response.status_code == 404


async def test_facilities_outage_is_a_503_the_client_may_retry():
    pact = _pact()
    (
        pact.upon_receiving("a request for a facility while the facilities database is away")
        .given("the database is unavailable")
        .with_request("GET", f"/facilities/{FACILITY_ID}")
        .will_respond_with(503)
    )
    with mock_provider(pact) as url:
        async with gateway_client(facilities=url) as gw:
            response = await gw.get(f"/api/facilities/{FACILITY_ID}")
    assert response.status_code == 503
    assert "Retry-After" in response.headers
