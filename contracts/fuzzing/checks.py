"""Custom Schemathesis checks; importing this module registers them.

`contracts.fuzzing.hooks` imports it, and the repository's `schemathesis.toml` names that
module as its hooks, so a plain `st run` runs these checks too.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote, urlsplit

import schemathesis
from schemathesis.specs.openapi.checks import is_unexpected_http_status_case

from contracts.fuzzing.leaks import (
    INTERNAL_ADDRESS,
    SQL_TEXT,
    STACK_TRACE,
    findings,
    problem_errors,
    problem_title,
)
from system_under_test.common.problems import VALIDATION_FAILED


def _sent(response: schemathesis.Response) -> str:
    """What the client sent, without the server's own address (that is no echo)."""
    request = response.request
    parts = urlsplit(str(request.url))
    body = request.body or b""
    if isinstance(body, bytes):
        body = body.decode("utf-8", "replace")
    return f"{unquote(parts.path)}?{unquote(parts.query)}\n{body}"


def _text(response: schemathesis.Response) -> str:
    return response.content.decode("utf-8", "replace")


def _assert_clean(response: schemathesis.Response, patterns: Any, what: str) -> None:
    found = findings(_text(response), patterns, echoed=_sent(response))
    if found:
        raise AssertionError(f"response body reveals {what}: {found[0]!r}")


@schemathesis.check
def no_stack_trace(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any):
    _assert_clean(response, STACK_TRACE, "a stack trace")


@schemathesis.check
def no_sql_text(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any):
    _assert_clean(response, SQL_TEXT, "SQL or database driver text")


@schemathesis.check
def no_internal_address(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any):
    _assert_clean(response, INTERNAL_ADDRESS, "an internal address")


@schemathesis.check
def errors_are_problems(ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any):
    if response.status_code < 400:
        return
    media = response.headers.get("content-type")
    media_type = media[0] if isinstance(media, list) and media else media
    errors = problem_errors(response.status_code, media_type, response.content)
    if errors:
        raise AssertionError(
            f"{response.status_code} answer is not a problem body: " + "; ".join(errors)
        )


@schemathesis.check
def valid_data_passes_validation(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: Any
):
    """A request generated as schema-valid is never refused as invalid.

    Where the configuration expects a 422 for valid data (a refusal on a business rule: an
    unknown reference, a reused key), `positive_data_acceptance` lets every 422 pass; this
    check still fails a 422 that is a validation failure, told apart by its problem title.
    """
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive or response.status_code != 422:
        return
    if is_unexpected_http_status_case(case):
        return
    if problem_title(response.content) == VALIDATION_FAILED:
        raise AssertionError(
            f"a schema-valid request was refused as invalid: {_text(response)[:300]}"
        )


CUSTOM_CHECKS = (
    "no_stack_trace",
    "no_sql_text",
    "no_internal_address",
    "errors_are_problems",
    "valid_data_passes_validation",
)
