"""A service fuzzed in-process (`schemathesis.openapi.from_asgi`), as a developer does in
pytest, with the repository's `schemathesis.toml`: the seed, phases, checks, hooks, links and
statuses expected on business rules that a plain `st run` uses.

The command-line test (`test_st_command.py`) fuzzes every service of a live stack with that
file, so this run does not repeat its volume; it proves the in-process engine reads the same
file and reaches the same verdict, on payments (no other service needed beside it; a business
refusal, 402, expected by its project section; links between its operations).
"""

from __future__ import annotations

import pytest
import schemathesis

from contracts.fuzzing.runner import fuzz, load_config
from contracts.fuzzing.targets import fuzz_target

pytestmark = pytest.mark.fuzz

MIN_CASES = 100


def test_payments_fuzzed_in_process_finds_no_failure(sandbox):
    config = load_config()
    with fuzz_target("payments", sandbox) as target:
        schema = schemathesis.openapi.from_asgi("/openapi.json", target.app, config=config)
        report = fuzz(schema, "payments")
    print(report.summary())
    assert report.ok, report.summary()
    assert report.cases >= MIN_CASES, report.summary()
    assert {"examples", "coverage", "fuzzing", "stateful"} <= set(report.by_phase), report.summary()
