"""Settings of payments: the shared `SVC_` settings with this service's name and port."""

from __future__ import annotations

from system_under_test.common.settings import ServiceSettings


class PaymentsSettings(ServiceSettings):
    name: str = "payments"
    port: int = 8083
