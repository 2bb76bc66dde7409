"""Each service's OpenAPI document says what it accepts: the values a schema admits are served,
the ones it refuses are refused, and the rules no schema can state are documented. Checked on
a live stack, at the edges a plain `st run` once found out of line."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from typing import Any

import httpx
import pytest

from system_under_test.common.problems import VALIDATION_FAILED

pytestmark = pytest.mark.fuzz

DAYS = ["0088-01-01", "1899-12-31", "1900-01-01", "2030-05-01", "8999-12-31", "9000-01-01"]
# (starts_at, ends_at) as written: the schema's year pattern reads the year before the offset.
SLOTS = [
    ("1900-01-01T00:00:00+05:00", "1900-01-01T02:00:00+05:00"),  # 1899 in UTC
    ("8999-12-31T22:00:00-05:00", "8999-12-31T23:30:00-05:00"),  # 9000 in UTC
    ("1899-12-31T22:00:00-05:00", "1899-12-31T23:00:00-05:00"),  # 1900 in UTC
    ("9000-01-01T01:00:00+05:00", "9000-01-01T02:00:00+05:00"),  # 8999 in UTC
]


def _client(url: str, token: str | None = None) -> httpx.Client:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    return httpx.Client(base_url=url, headers=headers, timeout=15)


def _operation(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    return document["paths"][path][method.lower()]


def _query_pattern(operation: dict[str, Any], name: str) -> re.Pattern[str]:
    (parameter,) = [p for p in operation["parameters"] if p["name"] == name]
    return re.compile(parameter["schema"]["pattern"])


def _resolve(document: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    ref = schema.get("$ref")
    return document["components"]["schemas"][ref.rsplit("/", 1)[-1]] if ref else schema


def _body_schema(operation: dict[str, Any], document: dict[str, Any]) -> dict[str, Any]:
    (content,) = operation["requestBody"]["content"].values()
    return _resolve(document, content["schema"])


@pytest.fixture(scope="module")
def facilities(faultline_stack):
    with _client(faultline_stack.url("facilities")) as client:
        yield client


@pytest.fixture(scope="module")
def gateway(faultline_stack, gateway_token):
    with _client(faultline_stack.gateway_url, gateway_token) as client:
        yield client


@pytest.fixture(scope="module")
def facility_id(facilities) -> str:
    created = facilities.post("/facilities", json={"name": "Schema Chapel", "capacity": 30})
    assert created.status_code == 201, created.text
    return created.json()["id"]


@pytest.mark.parametrize("where", ["facilities", "gateway"])
def test_a_day_is_answered_exactly_when_the_schema_admits_it(where, request, facility_id):
    client = request.getfixturevalue(where)
    prefix = "/api" if where == "gateway" else ""
    path = f"{prefix}/facilities/{{facility_id}}/availability"
    pattern = _query_pattern(_operation(client.get("/openapi.json").json(), "GET", path), "date")
    for day in DAYS:
        answer = client.get(path.format(facility_id=facility_id), params={"date": day})
        expected = 200 if pattern.search(day) else 422
        assert answer.status_code == expected, (day, answer.text)


def test_slot_times_are_stored_exactly_when_the_schema_admits_them(facilities, facility_id):
    document = facilities.get("/openapi.json").json()
    body = _body_schema(_operation(document, "PUT", "/reservations/{booking_id}"), document)
    pattern = re.compile(body["properties"]["starts_at"]["pattern"])
    for starts_at, ends_at in SLOTS:
        booking_id = str(uuid.uuid4())
        slot = {"facility_id": facility_id, "starts_at": starts_at, "ends_at": ends_at}
        answer = facilities.put(f"/reservations/{booking_id}", json=slot)
        if not pattern.search(starts_at):
            assert answer.status_code == 422, (starts_at, answer.text)
            continue
        assert answer.status_code == 201, (starts_at, answer.text)
        stored = facilities.get(f"/reservations/{booking_id}").json()
        # The same instants come back from PostgreSQL (in UTC, so a year earlier or later).
        for field, sent in (("starts_at", starts_at), ("ends_at", ends_at)):
            assert _instant(stored[field]) == _instant(sent), (field, stored)


def _instant(text: str) -> float:
    return datetime.fromisoformat(text).timestamp()


def test_an_empty_slot_is_a_documented_validation_refusal(facilities, facility_id):
    document = facilities.get("/openapi.json").json()
    operation = _operation(document, "PUT", "/reservations/{booking_id}")
    assert "after `starts_at`" in operation["responses"]["422"]["description"]
    body = _body_schema(operation, document)
    assert "after `starts_at`" in body["properties"]["ends_at"]["description"]
    at = "2030-05-01T10:00:00+00:00"
    answer = facilities.put(
        f"/reservations/{uuid.uuid4()}",
        json={"facility_id": facility_id, "starts_at": at, "ends_at": at},
    )
    assert answer.status_code == 422
    assert answer.json()["title"] == VALIDATION_FAILED


def test_reservation_links_lead_to_the_reservation(facilities, facility_id):
    document = facilities.get("/openapi.json").json()
    links = _operation(document, "PUT", "/reservations/{booking_id}")["responses"]["201"]["links"]
    booking_id = str(uuid.uuid4())
    slot = {
        "facility_id": facility_id,
        "starts_at": "2031-02-01T10:00:00+00:00",
        "ends_at": "2031-02-01T11:00:00+00:00",
    }
    reserved = facilities.put(f"/reservations/{booking_id}", json=slot)
    assert reserved.status_code == 201
    answers = {}
    for name in ("GetReservation", "ConfirmReservation", "ReleaseReservation"):
        link = links[name]
        assert link["parameters"] == {"booking_id": "$request.path.booking_id"}
        pointer = link["operationRef"].removeprefix("#/paths/")
        path, method = pointer.rsplit("/", 1)
        path = path.replace("~1", "/").replace("~0", "~")
        assert method in document["paths"][path], link
        answers[name] = facilities.request(method, path.format(booking_id=booking_id)).status_code
    assert answers == {"GetReservation": 200, "ConfirmReservation": 200, "ReleaseReservation": 204}


def test_the_token_form_admits_what_the_token_route_accepts(gateway):
    document = gateway.get("/openapi.json").json()
    operation = _operation(document, "POST", "/api/auth/token")
    assert "security" not in operation  # public: it hands out the tokens
    form = _body_schema(operation, document)
    examples = {name: form["properties"][name]["examples"][0] for name in ("username", "password")}
    anonymous = httpx.Client(base_url=str(gateway.base_url), timeout=15)
    with anonymous:
        assert anonymous.post("/api/auth/token", data=examples).status_code == 200
        # Any credentials the schema admits are answered as credentials, not as bad input.
        wrong = anonymous.post("/api/auth/token", data={"username": "x", "password": "y"})
        assert wrong.status_code == 401
        assert form["properties"]["username"]["minLength"] == 1
        empty = anonymous.post("/api/auth/token", data={"username": "", "password": "y"})
        assert empty.status_code == 422


def test_an_unknown_reference_is_a_documented_business_refusal(gateway, facility_id):
    document = gateway.get("/openapi.json").json()
    described = _operation(document, "POST", "/api/bookings")["responses"]["422"]["description"]
    assert "Unknown reference" in described
    answer = gateway.post(
        "/api/bookings",
        headers={"Idempotency-Key": str(uuid.uuid4())},
        json={
            "user_id": str(uuid.uuid4()),
            "facility_id": facility_id,
            "starts_at": "2030-05-01T10:00:00+00:00",
            "ends_at": "2030-05-01T12:00:00+00:00",
            "amount_cents": 1000,
            "payment_method": "pm_card_visa",
        },
    )
    assert answer.status_code == 422
    assert answer.json()["title"] == "Unknown reference"
