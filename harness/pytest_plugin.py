"""pytest plugin (entry point `faultline`): markers and fixtures for the booking suite."""

from __future__ import annotations

import pytest

MARKERS = {
    "unit": "pure logic, no network",
    "integration": "real PostgreSQL / RabbitMQ / sockets, no full stack",
    "e2e": "through the gateway with the whole stack up",
    "contract": "Pact consumer tests and provider verification",
    "fuzz": "Schemathesis fuzzing of the OpenAPI documents",
    "chaos": "fault-injection experiments against the stack",
    "load": "Locust load profiles with SLO thresholds",
}


def pytest_configure(config: pytest.Config) -> None:
    for name, doc in MARKERS.items():
        config.addinivalue_line("markers", f"{name}: {doc}")
