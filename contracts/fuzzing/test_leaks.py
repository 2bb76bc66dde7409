import json

import pytest

from contracts.fuzzing.leaks import (
    INTERNAL_ADDRESS,
    SQL_TEXT,
    STACK_TRACE,
    findings,
    problem_errors,
)

pytestmark = [pytest.mark.fuzz, pytest.mark.unit]

TRACE = 'Traceback (most recent call last):\n  File "/app/api.py", line 12, in get\n'


@pytest.mark.parametrize(
    ("text", "patterns"),
    [
        (TRACE, STACK_TRACE),
        ('{"detail": "SELECT users.id FROM users WHERE id = 1"}', SQL_TEXT),
        ("(psycopg.errors.UniqueViolation) duplicate key", SQL_TEXT),
        ("(Background on this error at: https://sqlalche.me/e/20/gkpj)", SQL_TEXT),
        ("users: cannot reach http://127.0.0.1:8081/users", INTERNAL_ADDRESS),
        ("postgresql+psycopg://postgres@db:5432/faultline_users", INTERNAL_ADDRESS),
        ("upstream localhost:5672 refused", INTERNAL_ADDRESS),
        ("peer 10.0.3.17 reset the connection", INTERNAL_ADDRESS),
    ],
)
def test_leaks_are_found(text, patterns):
    assert findings(text, patterns)


@pytest.mark.parametrize(
    "text",
    [
        '{"type": "about:blank", "title": "Not Found", "status": 404, "detail": "no user"}',
        '{"id": "5d0e", "name": "Chapel of Rest", "capacity": 80}',
        "Please select a slot from the list",
        "version 10.2 of the form",
    ],
)
def test_ordinary_bodies_are_clean(text):
    assert not findings(text, STACK_TRACE + SQL_TEXT + INTERNAL_ADDRESS)


def test_text_the_client_sent_is_an_echo_not_a_leak():
    body = '{"detail": [{"input": "SELECT a FROM b"}]}'
    assert findings(body, SQL_TEXT)
    assert not findings(body, SQL_TEXT, echoed='{"name": "SELECT a FROM b"}')


def _problem(**fields):
    return json.dumps({"type": "about:blank", "title": "Conflict", "status": 409, **fields})


def test_a_problem_body_passes():
    assert problem_errors(409, "application/problem+json", _problem(detail="taken").encode()) == []


@pytest.mark.parametrize(
    ("media_type", "body", "reason"),
    [
        ("application/json", _problem(), "Content-Type"),
        ("application/problem+json", b"Internal Server Error", "not JSON"),
        ("application/problem+json", b"[1]", "not a JSON object"),
        ("application/problem+json", json.dumps({"detail": "x", "status": 409}), "'title'"),
        ("application/problem+json", _problem(status=400), "'status' is 400"),
    ],
)
def test_non_problem_errors_are_named(media_type, body, reason):
    body = body.encode() if isinstance(body, str) else body
    errors = problem_errors(409, media_type, body)
    assert any(reason in e for e in errors), errors
