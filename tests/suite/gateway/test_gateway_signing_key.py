"""The gateway signs tokens with a key it is given; only the demo runs on the development key,
and a gateway with neither refuses to start, in one line."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from pydantic import ValidationError

from system_under_test.gateway import tokens
from system_under_test.gateway.app import build_app
from system_under_test.gateway.settings import DEVELOPMENT_KEY, GatewaySettings, MissingSigningKey

pytestmark = pytest.mark.unit
KEY = "a-signing-key-of-this-deployment-only"


@pytest.fixture(autouse=True)
def _no_key_in_the_environment(monkeypatch):
    for name in ("SVC_JWT_SECRET", "SVC_DEMO"):
        monkeypatch.delenv(name, raising=False)


def test_without_a_key_outside_demo_mode_no_gateway_is_built():
    settings = GatewaySettings()
    assert settings.max_in_flight == 32  # the settings themselves can still be read
    with pytest.raises(MissingSigningKey, match="SVC_JWT_SECRET is not set"):
        build_app(settings)


def test_the_demo_signs_with_the_development_key_unless_given_one():
    assert GatewaySettings(demo=True).signing_key == DEVELOPMENT_KEY
    given = GatewaySettings(demo=True, jwt_secret=KEY)
    assert given.signing_key == KEY
    assert KEY not in repr(given)  # never in a log line


def test_a_key_shorter_than_the_hash_is_refused():
    with pytest.raises(ValidationError, match="at least 32 bytes"):
        GatewaySettings(jwt_secret="short")


def test_a_token_signed_with_another_key_opens_nothing():
    settings = GatewaySettings(jwt_secret=KEY)
    foreign = tokens.issue("demo", DEVELOPMENT_KEY, 60)
    with pytest.raises(tokens.InvalidToken):
        tokens.subject_of(foreign, settings.signing_key)


def _start_gateway(**env: str) -> subprocess.CompletedProcess[str]:
    """uvicorn as a deployment runs it, on a port nobody uses; stopped by its own refusal."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("SVC_")}
    return subprocess.run(
        [sys.executable, "-m", "uvicorn", "system_under_test.gateway.app:app", "--port", "1"],
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_a_gateway_without_a_key_refuses_to_start_with_one_line():
    refused = _start_gateway()
    assert refused.returncode == 2
    lines = refused.stderr.strip().splitlines()
    assert len(lines) == 1, refused.stderr
    assert lines[0].startswith("gateway: SVC_JWT_SECRET is not set")
    assert "SVC_DEMO=true" in lines[0]


def test_a_bad_setting_of_any_service_is_one_line_too():
    refused = _start_gateway(SVC_DEMO="true", SVC_HTTP_TIMEOUT_S="soon")
    assert refused.returncode == 2
    assert refused.stderr.strip().splitlines() == [
        "gateway: SVC_HTTP_TIMEOUT_S: Input should be a valid number, unable to parse string "
        "as a number"
    ]
