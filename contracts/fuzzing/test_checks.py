"""Our checks fail a service that leaks or answers errors without a problem body."""

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.responses import PlainTextResponse
from schemathesis.python import asgi

from contracts.fuzzing.runner import fuzz, load_config

pytestmark = pytest.mark.fuzz


def leaky_app() -> FastAPI:
    app = FastAPI()

    @app.get("/items/{n}", responses={404: {"description": "no such item"}})
    def item(n: int) -> PlainTextResponse:
        return PlainTextResponse(
            'Traceback (most recent call last):\n  File "/srv/app.py", line 3, in item\n'
            "psycopg.OperationalError: connection to postgresql://db@10.1.2.3/items failed",
            status_code=404,
        )

    return app


def test_a_leaking_service_fails_every_custom_check(tmp_path):
    schema = schemathesis.openapi.from_asgi("/openapi.json", leaky_app(), config=load_config())
    try:
        report = fuzz(schema, "leaky", baseline_path=tmp_path / "none.json")
    finally:
        asgi.shutdown_lifespans()
    failed = {f.check for f in report.failures}
    assert {"no_stack_trace", "no_sql_text", "no_internal_address", "errors_are_problems"} <= failed
    assert not report.ok
