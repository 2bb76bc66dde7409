"""Our checks fail a service that leaks, answers errors without a problem body, or refuses
schema-valid requests as invalid; a refusal on a business rule is not such a failure."""

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import JSONResponse, PlainTextResponse
from pydantic import BaseModel
from schemathesis.python import asgi

from contracts.fuzzing.runner import fuzz, load_config
from system_under_test.common.problems import VALIDATION_FAILED

pytestmark = pytest.mark.fuzz


class Order(BaseModel):
    quantity: int


def _refusal(title: str) -> JSONResponse:
    body = {"type": "about:blank", "title": title, "status": 422, "detail": "refused"}
    return JSONResponse(body, status_code=422, media_type="application/problem+json")


def leaky_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{n}", responses={404: {"description": "no such item"}})
    def item(n: int) -> PlainTextResponse:
        return PlainTextResponse(
            'Traceback (most recent call last):\n  File "/srv/app.py", line 3, in item\n'
            "psycopg.OperationalError: connection to postgresql://db@10.1.2.3/items failed",
            status_code=404,
        )

    # Refuses every order as invalid, though the schema admits it.
    @app.post("/orders", status_code=201)
    def order(body: Order) -> JSONResponse:
        return _refusal(VALIDATION_FAILED)

    # Refuses every reference on a business rule: not a validation failure.
    @app.post("/references", status_code=201)
    def reference(body: Order) -> JSONResponse:
        return _refusal("Unknown reference")

    return app


@pytest.fixture(scope="module")
def failures(tmp_path_factory):
    schema = schemathesis.openapi.from_asgi("/openapi.json", leaky_app(), config=load_config())
    try:
        report = fuzz(schema, "leaky", baseline=tmp_path_factory.mktemp("b") / "none.json")
    finally:
        asgi.shutdown_lifespans()
    assert not report.ok
    return {(f.operation, f.check) for f in report.failures}


def test_a_leaking_service_fails_every_custom_check(failures):
    failed = {check for _, check in failures}
    assert {"no_stack_trace", "no_sql_text", "no_internal_address", "errors_are_problems"} <= failed


def test_valid_data_refused_as_invalid_fails(failures):
    assert ("POST /orders", "valid_data_passes_validation") in failures


def test_a_business_refusal_is_no_validation_failure(failures):
    assert ("POST /references", "valid_data_passes_validation") not in failures
    # The built-in check still flags it, where the configuration does not expect a 422.
    assert ("POST /references", "positive_data_acceptance") in failures
