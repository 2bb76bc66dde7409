"""Each resilience mechanism holds under the fault it exists for (the audit runs after each)."""

from __future__ import annotations

from typing import Any

import pytest

from chaos.experiments.catalog import Experiment, selected

pytestmark = pytest.mark.chaos


@pytest.mark.parametrize("experiment", selected(), ids=lambda e: e.name)
def test_mechanism_holds_under_its_fault(
    chaos_stack: Any, chaos_seed: int, experiment: Experiment
) -> None:
    result = experiment(chaos_stack, seed=chaos_seed)
    assert result.passed, result.report()
    assert result.audit is not None and result.audit.passed
