"""Every service's OpenAPI fuzzed in-process: examples, coverage, fuzzing and stateful phases,
every built-in check plus ours (no stack trace, SQL or internal address; problem bodies)."""

from __future__ import annotations

import pytest
import schemathesis

from contracts.fuzzing.runner import fuzz, load_config
from contracts.fuzzing.targets import SERVICES, fuzz_target

pytestmark = pytest.mark.fuzz

MIN_CASES = 300


@pytest.mark.parametrize("service", SERVICES)
def test_fuzzing_finds_no_failure(service, sandbox, monkeypatch):
    with fuzz_target(service, sandbox) as target:
        for name, value in target.environ.items():
            monkeypatch.setenv(name, value)
        schema = schemathesis.openapi.from_asgi(
            "/openapi.json", target.app, config=load_config(target.headers)
        )
        report = fuzz(schema, service)
    print(report.summary())
    assert report.ok, report.summary()
    assert report.cases >= MIN_CASES, report.summary()
