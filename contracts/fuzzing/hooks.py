"""Schemathesis extensions of this project: importing this module registers the custom
checks and the generation rules. The `st` command line loads it through the `hooks` entry of
`schemathesis.toml` (or `SCHEMATHESIS_HOOKS=contracts.fuzzing.hooks`)."""

from __future__ import annotations

from typing import Any

import schemathesis

import contracts.fuzzing.checks  # noqa: F401  (registers the custom checks)
from contracts.fuzzing import rules

BOOKING_ROUTES = ("/api/bookings",)


def _follow_rules(case: Any) -> Any:
    if isinstance(case.body, dict):
        rules.slot_in_order(case.body)
        if case.operation.path in BOOKING_ROUTES:
            rules.known_references(case.body)
    if isinstance(case.query, dict):
        rules.day_in_range(case.query)
    rules.fresh_idempotency_key(case.headers)
    return case


@schemathesis.hook
def map_case(context: schemathesis.HookContext, case: Any) -> Any:
    """Generated valid requests (every phase but examples) keep the rules; invalid ones are
    left alone, they are meant to break them."""
    meta = case.meta
    if meta is None or not meta.generation.mode.is_positive:
        return case
    return _follow_rules(case)


@schemathesis.hook
def before_add_examples(context: schemathesis.HookContext, examples: list[Any]) -> None:
    """The documented examples are valid requests too (the examples phase has no map_case)."""
    for case in examples:
        _follow_rules(case)
