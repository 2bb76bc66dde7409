"""Settings of facilities: the shared `SVC_` settings with this service's name and port."""

from __future__ import annotations

from system_under_test.common.settings import ServiceSettings


class FacilitiesSettings(ServiceSettings):
    name: str = "facilities"
    port: int = 8082
