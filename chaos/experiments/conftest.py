"""Stacks for the chaos experiments, the fault fixtures, and the audit after every test."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from chaos.experiments.runner import CHAOS_ENV
from chaos.faults.fixtures import base_seed, chaos_seed, faults  # noqa: F401
from harness.audit import audit_stack


@pytest.fixture(scope="session")
def chaos_stack(faultline_stack_factory: Any) -> Any:
    return faultline_stack_factory(env=CHAOS_ENV, seed=base_seed())


@pytest.fixture(scope="session")
def weakened_stack(faultline_stack_factory: Any) -> Any:
    # Its own stack: weakened runs leave behind the damage they are meant to reveal.
    return faultline_stack_factory(
        env={**CHAOS_ENV, "FAULTLINE_STACK_ROLE": "weakened"}, seed=base_seed()
    )


@pytest.fixture(autouse=True)
def audit_after(request: pytest.FixtureRequest) -> Iterator[None]:
    """Every test on the chaos stack must leave no new violation anywhere in the suite."""
    if "chaos_stack" not in request.fixturenames:
        yield
        return
    stack = request.getfixturevalue("chaos_stack")
    before = audit_stack(stack, wait=False)
    yield
    report = audit_stack(stack, timeout=30.0).since(before)
    if not report.passed:
        pytest.fail(f"audit after {request.node.name}:\n{report.explain()}", pytrace=False)
