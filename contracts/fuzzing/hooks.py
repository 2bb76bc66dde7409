"""Schemathesis extensions of this project: importing this module registers the custom
checks and the generation rules (`rules.py`). `st` loads it through the `hooks` entry of the
repository's `schemathesis.toml`, and so do `faultline fuzz` and the in-process fuzz tests."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import schemathesis
from schemathesis.specs.openapi.negative import GeneratedValue

import contracts.fuzzing.checks  # noqa: F401  (registers the custom checks)
from contracts.fuzzing import rules


# Every rule leaves a value that already follows it as it is, so applying them at generation
# and again before the call changes nothing twice.
def _body_rules(body: Any) -> Any:
    if isinstance(body, dict):
        body = dict(body)
        rules.slot_in_order(body)
        rules.email_of_this_run(body)
    return body


def _header_rules(headers: Any) -> Any:
    if isinstance(headers, dict):
        headers = dict(headers)
        rules.key_of_this_run(headers)
    return headers


def _follow_rules(case: Any) -> Any:
    case.body = _body_rules(case.body)
    if case.headers is not None:
        rules.key_of_this_run(case.headers)
    rules.no_null_in_path(case.path_parameters)
    rules.id_of_this_run(case.method, case.operation.path, case.path_parameters)
    return case


def _valid_only(rule: Callable[[Any], Any]) -> Callable[[Any], Any]:
    # Invalid (negative) values come wrapped in a GeneratedValue carrying their mutation: they
    # are meant to break rules. Valid values drawn from a pool of captured values (the
    # stateful phase) come wrapped too, without a mutation: the rule applies to those.
    def apply(value: Any) -> Any:
        if isinstance(value, GeneratedValue):
            return value if value.meta is not None else value.map_value(rule)
        return rule(value)

    return apply


# Fuzzing and stateful phases draw each part of a request from a strategy.
@schemathesis.hook
def before_generate_body(context: schemathesis.HookContext, strategy: Any) -> Any:
    return strategy.map(_valid_only(_body_rules))


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
