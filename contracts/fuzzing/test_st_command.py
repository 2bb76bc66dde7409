"""`st run` against each service of a running stack, the gateway with a real token through
its public URL: the same configuration, checks and rules as the in-process runs."""

from __future__ import annotations

import pytest

from contracts.fuzzing.command import gateway_references, run_st
from contracts.fuzzing.targets import SERVICES

pytestmark = pytest.mark.fuzz

# The in-process runs generate the volume; these prove the command line finds nothing either.
MAX_EXAMPLES = 10


@pytest.mark.parametrize("service", SERVICES)
def test_st_command_line_finds_no_failure(service, faultline_stack, gateway_token, tmp_path):
    headers, env = {}, {}
    if service == "gateway":
        url = faultline_stack.gateway_url
        headers = {"Authorization": f"Bearer {gateway_token}"}
        env = gateway_references(url, gateway_token)
    else:
        url = faultline_stack.url(service)
    run = run_st(
        service,
        f"{url}/openapi.json",
        tmp_path,
        headers=headers,
        env=env,
        max_examples=MAX_EXAMPLES,
    )
    assert run.ok, run.output[-6000:]
    assert run.cases > 0, run.output[-2000:]
