"""Settings of notifications: the shared `SVC_` settings with this service's name and port."""

from __future__ import annotations

from system_under_test.common.settings import ServiceSettings


class NotificationsSettings(ServiceSettings):
    name: str = "notifications"
    port: int = 8085
