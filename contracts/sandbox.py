"""Private PostgreSQL databases and broker namespaces for one test or one command run.

The servers are shared with other runs (and their leftovers), so everything created here
carries a random name and is dropped again on exit.
"""

from __future__ import annotations

import contextlib
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from harness.infra import broker_objects, delete_broker_objects, drop_databases
from harness.topology import load_topology
from harness.urls import service_url

POSTGRES_ENV = "FAULTLINE_POSTGRES_URL"
RABBITMQ_ENV = "FAULTLINE_RABBITMQ_URL"
DEFAULT_POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
DEFAULT_RABBITMQ = "amqp://guest:guest@127.0.0.1:5672/"


def unique_name(prefix: str = "fl_t") -> str:
    return f"{prefix}_{secrets.token_hex(5)}"


def postgres_server() -> str:
    """The PostgreSQL server the sandboxes create their databases on."""
    return os.environ.get(POSTGRES_ENV, DEFAULT_POSTGRES)


def rabbitmq_url() -> str:
    return os.environ.get(RABBITMQ_ENV, DEFAULT_RABBITMQ)


@dataclass
class Sandbox:
    """Names handed out to services; `close()` drops whatever was handed out."""

    namespace: str = field(default_factory=unique_name)
    # The gateway's token signing key in this sandbox (its clients log in with demo / demo).
    signing_key: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    databases: list[str] = field(default_factory=list)
    consumers: list[str] = field(default_factory=list)

    def database_url(self, service: str) -> str:
        name = f"{self.namespace}_{service}"
        self.databases.append(name)
        return service_url(postgres_server(), name)

    def settings(self, service: str) -> dict[str, str]:
        """Keyword arguments for a service's settings class: own database, this namespace."""
        return {
            "name": service,
            "database_url": self.database_url(service),
            "amqp_url": rabbitmq_url(),
            "namespace": self.namespace,
            "log_level": "WARNING",
        }

    def service_env(self, service: str, **extra: str) -> dict[str, str]:
        """`SVC_` settings giving `service` its own database and this sandbox's namespace."""
        env = {
            "SVC_NAME": service,
            "SVC_DATABASE_URL": self.database_url(service),
            "SVC_AMQP_URL": rabbitmq_url(),
            "SVC_NAMESPACE": self.namespace,
            "SVC_LOG_LEVEL": "WARNING",
        }
        env.update(extra)
        return env

    def close(self) -> None:
        if self.databases:
            drop_databases(postgres_server(), self.databases)
        # Every consumer queue of the topology: a service started here declares its own.
        consumers = sorted({*self.consumers, *load_topology().consumers()})
        exchanges, queues = broker_objects(self.namespace, consumers)
        # The broker may be away; then nothing was declared on it either.
        with contextlib.suppress(Exception):
            delete_broker_objects(rabbitmq_url(), exchanges, queues)


@contextmanager
def sandbox() -> Iterator[Sandbox]:
    box = Sandbox()
    try:
        yield box
    finally:
        box.close()
