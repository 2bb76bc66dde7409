"""Schemathesis extensions of this project: importing this module registers the custom
checks and the generation rules. The `st` command line loads it through the `hooks` entry of
`schemathesis.toml` (or `SCHEMATHESIS_HOOKS=contracts.fuzzing.hooks`)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from schemathesis.specs.openapi.negative import GeneratedValue

import contracts.fuzzing.checks  # noqa: F401  (registers the custom checks)
from contracts.fuzzing import rules

BOOKING_ROUTES = ("/api/bookings",)


def _body_rules(path: str, body: Any) -> Any:
    if isinstance(body, dict):
        body = dict(body)
        rules.slot_in_order(body)
        if path in BOOKING_ROUTES:
            rules.known_references(body)
    return body


def _query_rules(query: Any) -> Any:
    if isinstance(query, dict):
        query = dict(query)
        rules.day_in_range(query)
    return query


def _header_rules(headers: Any) -> Any:
    if isinstance(headers, dict):
        headers = dict(headers)
        rules.fresh_idempotency_key(headers)
    return headers


def _follow_rules(case: Any) -> Any:
    case.body = _body_rules(case.operation.path, case.body)
    case.query = _query_rules(case.query)
    if case.headers is not None:
        rules.fresh_idempotency_key(case.headers)
    return case


def _valid_only(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # Invalid (negative) values come wrapped in a GeneratedValue carrying their mutation: they
    # are meant to break rules. Valid values drawn from a pool of captured values (the
    # stateful phase) come wrapped too, without a mutation: the rules apply to those.
    def apply(value: Any) -> Any:
        if isinstance(value, GeneratedValue):
            return value if value.meta is not None else value.map_value(rule)
        return rule(value)

    return apply


# Fuzzing and stateful phases draw each part of a request from a strategy.
@schemathesis.hook
def before_generate_body(context: schemathesis.HookContext, strategy: Any) -> Any:
    path = context.operation.path if context.operation is not None else ""
    return strategy.map(_valid_only(lambda body: _body_rules(path, body)))


@schemathesis.hook
def before_generate_query(context: schemathesis.HookContext, strategy: Any) -> Any:
    return strategy.map(_valid_only(_query_rules))


@schemathesis.hook
def before_generate_headers(context: schemathesis.HookContext, strategy: Any) -> Any:
    return strategy.map(_valid_only(_header_rules))


# The coverage phase builds whole cases, marked positive or negative.
@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    return _follow_rules(case)


# The examples phase takes the documented examples, which are valid requests too.
@schemathesis.hook
def before_add_examples(context: schemathesis.HookContext, examples: list[Any]) -> None:
    for case in examples:
        _follow_rules(case)


# The last word before a request is sent, in every phase: whatever strategy, pool or link a
# valid case came from (the stateful phase builds some bodies outside the hooks above), the
# rules hold for what the service receives.
@schemathesis.hook
def before_call(context: schemathesis.HookContext, case: Any, kwargs: dict[str, Any]) -> None:
    meta = case.meta
    if meta is None or meta.generation.mode.is_positive:
        _follow_rules(case)
