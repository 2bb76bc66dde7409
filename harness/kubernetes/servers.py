"""What the overlays add: the Secrets, PostgreSQL and RabbitMQ for the demo namespace, or
Services naming servers outside the cluster."""

from __future__ import annotations

import secrets as token_source
from typing import Any

from harness import compose
from harness.errors import UserError
from harness.kubernetes.objects import (
    COMPONENT,
    NAMESPACE,
    PART_OF,
    edge_port,
    edge_service,
    labels,
    meta,
    secret_name,
    selector,
)
from harness.topology import Topology
from harness.urls import amqp_through, service_url

# Demo credentials, committed on purpose: the demo overlay must apply as is. Anything shared
# gets its own with `faultline kubernetes --secrets`.
DEMO_POSTGRES_PASSWORD = "demo-only-postgres-password"
DEMO_RABBITMQ_USER = "faultline"
DEMO_RABBITMQ_PASSWORD = "demo-only-rabbitmq-password"
DEMO_JWT_SECRET = "demo-only-signing-key-not-for-shared-clusters"
PLACEHOLDER_HOSTS = {"postgres": "postgres.example.invalid", "rabbitmq": "rabbitmq.example.invalid"}


def secret_documents(
    topology: Topology, postgres_url: str, rabbitmq_url: str, jwt_secret: str
) -> list[dict[str, Any]]:
    """One Secret per service: its database and broker URLs through its edge Services, with the
    credentials (user, password, vhost) of `postgres_url` / `rabbitmq_url`, and the signing key."""
    docs = []
    for service in topology.services.values():
        data: dict[str, str] = {}
        for edge in topology.edges_from(service.name):
            host, port = edge_service(edge), edge_port(topology, edge)
            if edge.kind == "postgres":
                database = f"faultline_{service.database}"
                data[edge.env_var] = service_url(postgres_url, database, host=host, port=port)
            elif edge.kind == "rabbitmq":
                data[edge.env_var] = amqp_through(rabbitmq_url, host, port)
        if service.public:
            data["SVC_JWT_SECRET"] = jwt_secret
        if not data:
            continue
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Secret",
                "metadata": meta(secret_name(service.name), "service"),
                "type": "Opaque",
                "stringData": data,
            }
        )
    return docs


def demo_secrets(topology: Topology) -> list[dict[str, Any]]:
    pg_port = compose.server_port(topology, "postgres")
    amqp_port = compose.server_port(topology, "rabbitmq")
    return secret_documents(
        topology,
        f"postgresql://postgres:{DEMO_POSTGRES_PASSWORD}@postgres:{pg_port}/postgres",
        f"amqp://{DEMO_RABBITMQ_USER}:{DEMO_RABBITMQ_PASSWORD}@rabbitmq:{amqp_port}/",
        DEMO_JWT_SECRET,
    )


def secrets_from_environment(topology: Topology, environ: dict[str, str]) -> list[dict[str, Any]]:
    """`faultline kubernetes --secrets`: the Secrets for servers named by the topology's variables
    (FAULTLINE_POSTGRES_URL, FAULTLINE_RABBITMQ_URL) and SVC_JWT_SECRET (a fresh random key
    when unset)."""
    missing = [s.env for s in (topology.postgres, topology.rabbitmq) if not environ.get(s.env)]
    if missing:
        raise UserError(
            f"set {' and '.join(missing)} to the URL the cluster's servers answer on "
            "(with user and password); the host part is replaced by the edge Services"
        )
    jwt = environ.get("SVC_JWT_SECRET") or token_source.token_urlsafe(32)
    return secret_documents(
        topology, environ[topology.postgres.env], environ[topology.rabbitmq.env], jwt
    )


def _server_service(name: str, port: int) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(name, COMPONENT[name]),
        "spec": {
            "selector": selector(name),
            "ports": [{"name": f"tcp-{name}", "port": port, "targetPort": port, "protocol": "TCP"}],
        },
    }


def _stateful_set(
    name: str, image: str, port: int, secret: str, data_path: str, extra: dict[str, Any]
) -> dict[str, Any]:
    """A one-replica server for the demo namespace, its data on a volume of its own."""
    container = {
        "name": name,
        "image": image,
        "ports": [{"name": "server", "containerPort": port, "protocol": "TCP"}],
        "envFrom": [{"secretRef": {"name": secret}}],
        "resources": {
            "requests": {"cpu": "100m", "memory": "256Mi"},
            "limits": {"cpu": "1", "memory": "1Gi"},
        },
        "volumeMounts": [{"name": "data", "mountPath": data_path}],
        **extra,
    }
    claim = {
        "metadata": {"name": "data"},
        "spec": {"accessModes": ["ReadWriteOnce"], "resources": {"requests": {"storage": "1Gi"}}},
    }
    return {
        "apiVersion": "apps/v1",
        "kind": "StatefulSet",
        "metadata": meta(name, COMPONENT[name]),
        "spec": {
            "serviceName": name,
            "replicas": 1,
            "selector": {"matchLabels": selector(name)},
            "template": {
                "metadata": {"labels": labels(name, COMPONENT[name])},
                "spec": {"automountServiceAccountToken": False, "containers": [container]},
            },
            # Kept across pod restarts, so a chaos run that kills the server loses no booking.
            "volumeClaimTemplates": [claim],
        },
    }


def _exec_probe(command: list[str], period: int, timeout: int) -> dict[str, Any]:
    return {
        "exec": {"command": command},
        "periodSeconds": period,
        "timeoutSeconds": timeout,
        "failureThreshold": 3,
    }


def postgres_documents(topology: Topology) -> list[dict[str, Any]]:
    port = compose.server_port(topology, "postgres")
    ready = _exec_probe(["pg_isready", "-U", "postgres"], period=5, timeout=3)
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("postgres", "database"),
        "type": "Opaque",
        "stringData": {"POSTGRES_PASSWORD": DEMO_POSTGRES_PASSWORD},
    }
    checks = {
        # A volume's root holds lost+found; initdb wants an empty directory.
        "env": [{"name": "PGDATA", "value": "/var/lib/postgresql/data/pgdata"}],
        "readinessProbe": ready,
        "livenessProbe": {**ready, "periodSeconds": 10},
    }
    sts = _stateful_set(
        "postgres",
        compose.POSTGRES_IMAGE,
        port,
        "postgres",
        "/var/lib/postgresql/data",
        checks,
    )
    return [secret, _server_service("postgres", port), sts]


def rabbitmq_documents(topology: Topology) -> list[dict[str, Any]]:
    port = compose.server_port(topology, "rabbitmq")
    secret = {
        "apiVersion": "v1",
        "kind": "Secret",
        "metadata": meta("rabbitmq", "broker"),
        "type": "Opaque",
        "stringData": {
            "RABBITMQ_DEFAULT_USER": DEMO_RABBITMQ_USER,
            "RABBITMQ_DEFAULT_PASS": DEMO_RABBITMQ_PASSWORD,
        },
    }
    # The checks RabbitMQ's documentation recommends: ping for liveness, the AMQP listener for
    # readiness. Both start an Erlang VM, hence the generous timeouts.
    checks = {
        "readinessProbe": _exec_probe(
            ["rabbitmq-diagnostics", "-q", "check_port_connectivity"], period=10, timeout=10
        ),
        "livenessProbe": _exec_probe(["rabbitmq-diagnostics", "-q", "ping"], period=30, timeout=15),
    }
    sts = _stateful_set(
        "rabbitmq", compose.RABBITMQ_IMAGE, port, "rabbitmq", "/var/lib/rabbitmq", checks
    )
    return [secret, _server_service("rabbitmq", port), sts]


def external_servers(topology: Topology) -> list[dict[str, Any]]:
    """Services `postgres` and `rabbitmq` that resolve to servers outside the cluster."""
    docs = []
    for name in ("postgres", "rabbitmq"):
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": meta(name, COMPONENT[name]),
                "spec": {"type": "ExternalName", "externalName": PLACEHOLDER_HOSTS[name]},
            }
        )
    return docs


def namespace_document() -> dict[str, Any]:
    labels = {
        "app.kubernetes.io/part-of": PART_OF,
        # The suite's own pods meet `restricted`; the demo servers' images need `baseline`.
        "pod-security.kubernetes.io/enforce": "baseline",
        "pod-security.kubernetes.io/warn": "restricted",
    }
    return {
        "apiVersion": "v1",
        "kind": "Namespace",
        "metadata": {"name": NAMESPACE, "labels": labels},
    }
