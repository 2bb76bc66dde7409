"""A seeded sample of the fault matrix: no cell may end in a violation (`faultline matrix` runs
every cell)."""

from __future__ import annotations

import os
from typing import Any

import pytest

from chaos.matrix import cells, run_matrix, sample

pytestmark = pytest.mark.chaos

SAMPLE_ENV = "FAULTLINE_MATRIX_SAMPLE"
DEFAULT_SAMPLE = 6


def test_sampled_cells_of_the_fault_matrix_have_no_violation(
    chaos_stack: Any, chaos_seed: int
) -> None:
    count = int(os.environ.get(SAMPLE_ENV) or DEFAULT_SAMPLE)
    chosen = sample(cells(chaos_stack.topology), count, chaos_seed)
    results = run_matrix(chaos_stack, chosen, chaos_seed)

    assert len(results) == min(count, len(cells(chaos_stack.topology)))
    violations = [c for c in results if c.verdict == "violation"]
    assert not violations, "\n".join(
        f"{c.edge} x {c.fault}: {c.summary}\n  replay: {c.replay}" for c in violations
    )
