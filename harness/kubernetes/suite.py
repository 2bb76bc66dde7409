"""The base: the services (Deployment, Service, HPA), the Toxiproxy that holds a proxy per edge,
and a Service per edge. Callers use their edge's Service as the downstream URL, so every edge
crosses Toxiproxy exactly as on one machine."""

from __future__ import annotations

import hashlib
import json
from typing import Any

from harness import compose
from harness.kubernetes.objects import (
    SUITE_UID,
    dns_name,
    edge_port,
    edge_service,
    labels,
    meta,
    restricted_container,
    restricted_pod,
    secret_name,
    selector,
)
from harness.topology import Service, Topology

TOXIPROXY = "toxiproxy"
TOXIPROXY_API_PORT = 8474
TOXIPROXY_CONFIG_MAP = "toxiproxy-config"
NOBODY = 65534  # Toxiproxy's image is FROM scratch and needs no user of its own

# Measured: each service holds 100-115 MiB RSS after a few booking flows. One uvicorn worker
# never uses more than one core, so a limit of one CPU does not throttle it.
SERVICE_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "128Mi"},
    "limits": {"cpu": "1", "memory": "512Mi"},
}
TOXIPROXY_RESOURCES = {
    "requests": {"cpu": "100m", "memory": "32Mi"},
    "limits": {"cpu": "1", "memory": "256Mi"},
}

# (min, max) replicas: the entry point keeps two so one pod lost is not an outage.
PUBLIC_REPLICAS = (2, 6)
CALLER_REPLICAS = (1, 4)
CPU_TARGET_PERCENT = 70


def secret_vars(topology: Topology, service: Service) -> list[str]:
    names = [e.env_var for e in topology.edges_from(service.name) if e.kind != "http"]
    if service.public:
        names.append("SVC_JWT_SECRET")  # the entry point signs and checks the tokens
    return names


def autoscaled(topology: Topology) -> dict[str, tuple[int, int]]:
    """Services with an HPA: the entry point, and every service that calls others over HTTP
    (their requests fan out, so they saturate first). For the booking suite: gateway, bookings."""
    scaled = {}
    for service in topology.services.values():
        if service.public:
            scaled[service.name] = PUBLIC_REPLICAS
        elif any(e.kind == "http" for e in topology.edges_from(service.name)):
            scaled[service.name] = CALLER_REPLICAS
    return scaled


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {
        "httpGet": {"path": path, "port": "http"},
        "periodSeconds": period,
        "timeoutSeconds": 2,
        "failureThreshold": failures,
    }


def service_env(topology: Topology, service: Service) -> list[dict[str, Any]]:
    env: list[dict[str, Any]] = [
        {"name": "SVC_NAME", "value": service.name},
        {"name": "SVC_PORT", "value": str(service.port)},
        # The broker namespace (exchange and queue prefix), not the Kubernetes one.
        {"name": "SVC_NAMESPACE", "value": "faultline"},
    ]
    for edge in topology.edges_from(service.name):
        if edge.kind == "http":
            url = f"http://{edge_service(edge)}:{edge_port(topology, edge)}"
            env.append({"name": edge.env_var, "value": url})
    for name in secret_vars(topology, service):
        ref = {"name": secret_name(service.name), "key": name}
        env.append({"name": name, "valueFrom": {"secretKeyRef": ref}})
    return env


def deployment(topology: Topology, service: Service) -> dict[str, Any]:
    container = {
        "name": dns_name(service.name),
        "image": compose.SUITE_IMAGE,
        "imagePullPolicy": "IfNotPresent",
        "command": ["uvicorn", service.app, "--host", "0.0.0.0", "--port", str(service.port)],
        "ports": [{"name": "http", "containerPort": service.port, "protocol": "TCP"}],
        "env": service_env(topology, service),
        "resources": SERVICE_RESOURCES,
        # Start-up runs migrations and may wait out a slow database: up to two minutes.
        "startupProbe": _probe("/health", period=2, failures=60),
        "readinessProbe": _probe("/ready", period=5, failures=2),
        "livenessProbe": _probe("/health", period=10, failures=3),
        "securityContext": restricted_container(),
        "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
    }
    spec: dict[str, Any] = {
        "selector": {"matchLabels": selector(service.name)},
        "template": {
            "metadata": {"labels": labels(service.name, "service")},
            "spec": {
                "automountServiceAccountToken": False,
                "securityContext": restricted_pod(SUITE_UID),
                "containers": [container],
                "volumes": [{"name": "tmp", "emptyDir": {}}],
            },
        },
    }
    if service.name not in autoscaled(topology):
        spec = {"replicas": 1, **spec}  # an HPA owns the count of the others
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(service.name, "service"),
        "spec": spec,
    }


def cluster_service(service: Service) -> dict[str, Any]:
    port = {
        "name": "http",
        "appProtocol": "http",
        "port": service.port,
        "targetPort": "http",
        "protocol": "TCP",
    }
    return {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(service.name, "service"),
        "spec": {"selector": selector(service.name), "ports": [port]},
    }


def autoscaler(service: Service, replicas: tuple[int, int]) -> dict[str, Any]:
    target = {"type": "Utilization", "averageUtilization": CPU_TARGET_PERCENT}
    return {
        "apiVersion": "autoscaling/v2",
        "kind": "HorizontalPodAutoscaler",
        "metadata": meta(service.name, "service"),
        "spec": {
            "scaleTargetRef": {
                "apiVersion": "apps/v1",
                "kind": "Deployment",
                "name": dns_name(service.name),
            },
            "minReplicas": replicas[0],
            "maxReplicas": replicas[1],
            "metrics": [{"type": "Resource", "resource": {"name": "cpu", "target": target}}],
        },
    }


def service_documents(topology: Topology, service: Service) -> list[dict[str, Any]]:
    docs = [deployment(topology, service), cluster_service(service)]
    replicas = autoscaled(topology).get(service.name)
    if replicas:
        docs.append(autoscaler(service, replicas))
    return docs


def toxiproxy_config(topology: Topology) -> list[dict[str, Any]]:
    return compose.toxiproxy_config(topology, host=dns_name)


def _config_text(topology: Topology) -> str:
    return json.dumps(toxiproxy_config(topology), indent=2) + "\n"


def toxiproxy_documents(topology: Topology) -> list[dict[str, Any]]:
    config = _config_text(topology)
    ports = compose.proxy_ports(topology)
    config_map = {
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": meta(TOXIPROXY_CONFIG_MAP, "proxy"),
        "data": {compose.TOXIPROXY_FILE: config},
    }
    container = {
        "name": TOXIPROXY,
        "image": compose.TOXIPROXY_IMAGE,
        "args": ["-host=0.0.0.0", f"-config=/config/{compose.TOXIPROXY_FILE}"],
        "ports": [
            {"name": "api", "containerPort": TOXIPROXY_API_PORT, "protocol": "TCP"},
            *({"containerPort": port, "protocol": "TCP"} for port in ports.values()),
        ],
        "resources": TOXIPROXY_RESOURCES,
        # Toxiproxy loads its -config before its API listens: an answer means every proxy exists.
        "readinessProbe": {
            "httpGet": {"path": "/version", "port": "api"},
            "periodSeconds": 5,
            "timeoutSeconds": 2,
        },
        "livenessProbe": {
            "httpGet": {"path": "/version", "port": "api"},
            "periodSeconds": 10,
            "timeoutSeconds": 2,
            "failureThreshold": 3,
        },
        "securityContext": restricted_container(),
        "volumeMounts": [{"name": "config", "mountPath": "/config", "readOnly": True}],
    }
    digest = hashlib.sha256(config.encode()).hexdigest()
    deploy = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": meta(TOXIPROXY, "proxy"),
        "spec": {
            # Exactly one: toxics live in this process, and a second replica behind the same
            # Services would carry part of the traffic past every fault. Recreate keeps it one
            # during a rollout too.
            "replicas": 1,
            "strategy": {"type": "Recreate"},
            "selector": {"matchLabels": selector(TOXIPROXY)},
            "template": {
                "metadata": {
                    "labels": labels(TOXIPROXY, "proxy"),
                    # A changed proxy list restarts the pod; the file is read only at start.
                    "annotations": {"faultline/config-sha256": digest},
                },
                "spec": {
                    "automountServiceAccountToken": False,
                    "securityContext": restricted_pod(NOBODY),
                    "containers": [container],
                    "volumes": [
                        {"name": "config", "configMap": {"name": TOXIPROXY_CONFIG_MAP}},
                    ],
                },
            },
        },
    }
    api = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": meta(TOXIPROXY, "proxy"),
        "spec": {
            "selector": selector(TOXIPROXY),
            "ports": [
                {
                    "name": "http-api",
                    "appProtocol": "http",
                    "port": TOXIPROXY_API_PORT,
                    "targetPort": "api",
                    "protocol": "TCP",
                }
            ],
        },
    }
    return [config_map, deploy, api]


def edge_services(topology: Topology) -> list[dict[str, Any]]:
    ports = compose.proxy_ports(topology)
    docs = []
    for edge in topology.edges:
        edge_labels = {
            **labels(edge_service(edge), "edge"),
            "faultline/from": dns_name(edge.source),
            "faultline/to": dns_name(edge.target),
            "faultline/kind": edge.kind,
        }
        # Port names tell a mesh the protocol (Istio reads `http`, `tcp-*`).
        name = "http" if edge.kind == "http" else f"tcp-{edge.kind}"
        port = {
            "name": name,
            "appProtocol": "http" if edge.kind == "http" else "tcp",
            "port": edge_port(topology, edge),
            "targetPort": ports[edge.proxy_name],
            "protocol": "TCP",
        }
        docs.append(
            {
                "apiVersion": "v1",
                "kind": "Service",
                "metadata": {
                    "name": edge_service(edge),
                    "labels": edge_labels,
                    "annotations": {"faultline/proxy": edge.proxy_name},
                },
                "spec": {"selector": selector(TOXIPROXY), "ports": [port]},
            }
        )
    return docs
