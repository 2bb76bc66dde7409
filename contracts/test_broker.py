import subprocess

import pytest

from contracts.broker import BrokerConfig, broker_commands
from contracts.pactfiles import PACT_DIR

pytestmark = [pytest.mark.contract, pytest.mark.unit]


def test_without_a_broker_url_everything_stays_on_files(monkeypatch):
    monkeypatch.delenv("PACT_BROKER_BASE_URL", raising=False)
    assert BrokerConfig.from_env() is None


def test_with_a_broker_pacts_are_published_then_can_i_deploy_asks_for_every_pacticipant(
    monkeypatch, tmp_path
):
    monkeypatch.setenv("PACT_BROKER_BASE_URL", "https://broker.example")
    monkeypatch.setenv("PACT_APP_VERSION", "1a2b3c")
    monkeypatch.setenv("PACT_APP_BRANCH", "main")
    config = BrokerConfig.from_env()
    assert config == BrokerConfig("https://broker.example", "1a2b3c", "main")
    publish, can_i_deploy = broker_commands(config, ["gateway", "users"], tmp_path)
    assert publish[1:] == [
        "broker",
        "publish",
        str(tmp_path),
        "--consumer-app-version",
        "1a2b3c",
        "--branch",
        "main",
        "--broker-base-url",
        "https://broker.example",
    ]
    assert can_i_deploy[1:] == [
        "broker",
        "can-i-deploy",
        "--broker-base-url",
        "https://broker.example",
        "--pacticipant",
        "gateway",
        "--version",
        "1a2b3c",
        "--pacticipant",
        "users",
        "--version",
        "1a2b3c",
    ]


def test_the_pact_command_line_accepts_both_commands_and_fails_only_on_the_missing_broker(
    tmp_path,
):
    # No broker runs here: the real CLI must get past its argument parsing and fail on the
    # connection, which shows the command lines faultline builds are the CLI's own.
    from contracts.broker import pact_cli
    from harness.processes import free_port

    assert pact_cli() is not None, "pact-python-cli (a dependency) provides `pact`"
    nowhere = f"http://127.0.0.1:{free_port()}"
    config = BrokerConfig(nowhere, "1a2b3c", "main")
    for argv in broker_commands(config, ["gateway"], PACT_DIR):
        # --retries 0: the CLI retries a refused connection with backoff for a minute by default
        done = subprocess.run([*argv, "--retries", "0"], capture_output=True, text=True, timeout=60)
        said = (done.stdout + done.stderr).lower()
        assert done.returncode != 0
        assert "unrecognized" not in said and "usage:" not in said, said
        assert "failed to access pact broker" in said, said
