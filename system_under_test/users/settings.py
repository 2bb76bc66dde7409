"""Settings of users: the shared `SVC_` settings with this service's name and port."""

from __future__ import annotations

from system_under_test.common.settings import ServiceSettings


class UsersSettings(ServiceSettings):
    name: str = "users"
    port: int = 8081
