"""Settings come from SVC_ variables, with per-service defaults."""

import pytest

from system_under_test.common.settings import ServiceSettings
from system_under_test.facilities.settings import FacilitiesSettings

pytestmark = pytest.mark.unit


def test_defaults_name_the_services_own_database():
    settings = FacilitiesSettings()
    assert settings.name == "facilities" and settings.port == 8082
    assert settings.database_url.endswith("/faultline_facilities")
    assert settings.breakers and settings.retries and settings.outbox


def test_environment_overrides_and_switches(monkeypatch):
    monkeypatch.setenv("SVC_NAME", "payments")
    monkeypatch.setenv("SVC_BREAKERS", "false")
    monkeypatch.setenv("SVC_HTTP_TIMEOUT_S", "0.5")
    monkeypatch.setenv("SVC_NAMESPACE", "fl_run1")
    settings = ServiceSettings()
    assert settings.name == "payments"
    assert settings.breakers is False
    assert settings.http_timeout_s == 0.5
    assert settings.namespace == "fl_run1"
    assert settings.database_url.endswith("/faultline_payments")
