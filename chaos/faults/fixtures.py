"""pytest fixtures of the fault API. Import them into a conftest.py:

    from chaos.faults.fixtures import chaos_seed, faults  # noqa: F401

`faults` needs a fixture named `chaos_stack` (any running `harness.stack.Stack`); every fault
it injected is undone when the test ends, whether it passed, failed or was interrupted.
"""

from __future__ import annotations

import os
import zlib
from collections.abc import Iterator
from typing import Any

import pytest

from chaos.faults.injector import Faults

SEED_ENV = "FAULTLINE_SEED"
DEFAULT_SEED = 1


def base_seed() -> int:
    """`$FAULTLINE_SEED`, default 1: the seed a run is replayed from."""
    return int(os.environ.get(SEED_ENV) or DEFAULT_SEED)


@pytest.fixture
def chaos_seed(request: pytest.FixtureRequest) -> int:
    """The base seed mixed with the test's id: each test draws differently, and the same
    base seed replays the same run."""
    return (base_seed() * 1_000_003 + zlib.crc32(request.node.nodeid.encode())) % 2**31


@pytest.fixture
def faults(chaos_stack: Any, chaos_seed: int) -> Iterator[Faults]:
    injector = Faults(chaos_stack, seed=chaos_seed)
    try:
        yield injector
    finally:
        problems = injector.close()
        if problems:
            pytest.fail("faults not undone: " + "; ".join(problems), pytrace=False)
