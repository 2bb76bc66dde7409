import pytest

from contracts.broker import BrokerConfig, broker_commands

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
