"""The committed pact files verified with the `pact verifier` command line that pact-python
ships (pact-python-cli), as a Pact user runs it: against the real provider on a port of its
own, its provider states set up through the `--state-change-url` endpoint served beside it."""

from __future__ import annotations

import os
import subprocess

import pytest

from contracts.pactfiles import HTTP, load_pacts
from contracts.provider.standalone import (
    PROVIDERS,
    http_pact_files,
    provider_for_cli,
    report_outcomes,
    verifier_argv,
)
from contracts.provider.test_breaking_change import RenameField

pytestmark = pytest.mark.contract

# The verifier reports usage statistics unless told not to.
ENV = {**os.environ, "PACT_DO_NOT_TRACK": "true"}


def _verify(provider, files, report):
    return subprocess.run(
        verifier_argv(provider, files, json_report=report),
        env=ENV,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )


@pytest.mark.parametrize("name", PROVIDERS)
def test_pact_verifier_command_line_verifies_every_http_pact(name, sandbox, tmp_path):
    files = http_pact_files(name)
    expected = {
        i["description"]
        for pact in load_pacts().values()
        if pact.path in files
        for i in pact.of_type(HTTP)
    }
    with provider_for_cli(name, sandbox) as provider:
        done = _verify(provider, files, tmp_path / "report.json")
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    outcomes = report_outcomes(tmp_path / "report.json")
    assert set(outcomes) == expected, output[-3000:]
    assert set(outcomes.values()) == {"OK"}, output[-3000:]


def test_pact_verifier_command_line_fails_a_breaking_provider(sandbox, tmp_path):
    def rename(app):
        return RenameField(app, "name", "full_name")

    with provider_for_cli("users", sandbox, wrap=rename) as provider:
        done = _verify(provider, http_pact_files("users"), tmp_path / "report.json")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output[-3000:]
    outcomes = report_outcomes(tmp_path / "report.json")
    assert outcomes["a request for a user"] != "OK"
    assert outcomes["a request for a user that does not exist"] == "OK"
    assert "name" in output and "a request for a user" in output
