"""`st run <openapi url>` against every service of a running stack, exactly as the README tells
a user to run it: from the repository root, with nothing but what `schemathesis.toml` says
(seed, phases, checks, our hooks, the gateway's token). Any failure or warning fails."""

from __future__ import annotations

import os
import re

import pytest

from contracts.fuzzing.command import run_st
from contracts.fuzzing.runner import CONFIG_PATH
from contracts.fuzzing.targets import SERVICES

pytestmark = pytest.mark.fuzz

# A floor that a run testing (almost) nothing falls under; every service gives far more.
MIN_CASES = 50


def _plain_environment() -> dict[str, str]:
    # Nothing but the configuration file: no hooks or settings passed through the environment.
    return {k: v for k, v in os.environ.items() if not k.startswith("SCHEMATHESIS_")}


@pytest.mark.parametrize("service", SERVICES)
def test_plain_st_run_finds_no_failure_and_no_warning(service, faultline_stack):
    url = faultline_stack.gateway_url if service == "gateway" else faultline_stack.url(service)
    run = run_st(service, f"{url}/openapi.json", env=_plain_environment())
    print(f"{service}: {run.cases} cases, {run.verdict}")
    assert run.argv[-2:] == ["run", f"{url}/openapi.json"]
    # `st` found the repository's configuration by itself.
    read = re.search(rf"Configuration:\s+{re.escape(str(CONFIG_PATH))}\n", run.output)
    assert read, run.output[:2000]
    assert not run.failures, run.output[-6000:]
    assert not run.warnings, run.output[-6000:]
    assert run.ok, run.output[-6000:]
    assert run.cases >= MIN_CASES, run.output[-2000:]
