"""What every generated manifest shares: object names, labels, metadata, security contexts.

Labels follow Kubernetes' recommended `app.kubernetes.io/*` set. A workload is selected by its
name and `part-of: faultline`, which is also what a Chaos Mesh `labelSelectors` names.
"""

from __future__ import annotations

from typing import Any

from harness import compose
from harness.topology import Edge, Topology

NAMESPACE = "faultline"
PART_OF = "faultline"
SUITE_UID = 10001  # the Dockerfile's USER
COMPONENT = {"postgres": "database", "rabbitmq": "broker"}


def dns_name(name: str) -> str:
    """A topology name as a Kubernetes object name (DNS-1035 labels allow no '_')."""
    return name.replace("_", "-")


def edge_service(edge: Edge) -> str:
    """The Service a caller uses for this edge, e.g. `bookings-to-payments`."""
    return f"{dns_name(edge.source)}-to-{dns_name(edge.target)}"


def secret_name(service: str) -> str:
    return f"{dns_name(service)}-secrets"


def labels(name: str, component: str) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": dns_name(name),
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": PART_OF,
    }


def selector(name: str) -> dict[str, str]:
    """What a Service, an HPA's pods or a Chaos Mesh `labelSelectors` matches a workload by."""
    return {"app.kubernetes.io/name": dns_name(name), "app.kubernetes.io/part-of": PART_OF}


def meta(name: str, component: str, **extra: Any) -> dict[str, Any]:
    return {"name": dns_name(name), "labels": labels(name, component), **extra}


def edge_port(topology: Topology, edge: Edge) -> int:
    """The port a caller dials on the edge Service: the target's own, as if no proxy were there."""
    if edge.kind == "http":
        return topology.services[edge.target].port
    return compose.server_port(topology, edge.kind)


def restricted_container() -> dict[str, Any]:
    return {
        "allowPrivilegeEscalation": False,
        "readOnlyRootFilesystem": True,
        "capabilities": {"drop": ["ALL"]},
    }


def restricted_pod(uid: int) -> dict[str, Any]:
    return {
        "runAsNonRoot": True,
        "runAsUser": uid,
        "runAsGroup": uid,
        "seccompProfile": {"type": "RuntimeDefault"},
    }
