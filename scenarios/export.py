"""A game day's timeline as a cluster's own fault engine runs it: Chaos Mesh or Istio resources.

The names are those of the generated Kubernetes manifests (`harness.kubernetes`): a service's
pods carry `app.kubernetes.io/name: <service>` and `part-of: faultline`, and a caller reaches
each edge through its own Service `<from>-to-<to>` (in front of the Toxiproxy pod, as on one
machine).

**Chaos Mesh** (`chaos-mesh.org/v1alpha1`): one `Workflow`. Its entry runs every timeline entry
in parallel; each is a serial pair, a `Suspend` for `at` then the fault with `for` as its
deadline (Chaos Mesh's own way of timing a fault in a workflow). A fault on an edge is a
`NetworkChaos` on the caller's pods aimed at that edge's Service address (`externalTargets`
takes `host:port`, which the controller resolves to the ClusterIP the caller dials): a toxic's
latency is a `delay`, a blackhole a 100% `loss`, bandwidth a `bandwidth`, an edge down, a
database or the broker away a `partition`. An HTTP fault is an `HTTPChaos` on the callee's
pods (Chaos Mesh cannot tell callers apart there: every caller of that service is hit). A
killed or paused service is a `PodChaos` `pod-failure` for the window (its containers stop and
come back when it ends); a restart is a `pod-kill`, which the Deployment replaces.

**Istio** (`networking.istio.io/v1`): one `VirtualService` per timeline entry that Istio can
express: HTTP faults (abort with a status, or a fixed delay), and latency or an outage on an
HTTP edge (a delay, or the 503 a caller's sidecar answers when nothing is reachable). Istio
has no timeline, so each carries `faultline/at` and `faultline/for` annotations: apply it at
`at`, delete it `for` later. Faults Istio cannot inject (TCP edges, processes) are listed, not
exported.

What a cluster engine cannot express faithfully is refused with the reason (`ExportError`),
rather than exported as something else.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from chaos.faults.spec import (
    BrokerFault,
    DatabaseFault,
    DownFault,
    FaultSpec,
    HttpFault,
    ProcessFault,
    ToxicFault,
)
from harness.errors import UserError
from harness.kubernetes import NAMESPACE, edge_service, selector
from harness.kubernetes.objects import edge_port
from harness.kubernetes.tree import dump
from harness.topology import Edge, Topology

Target = Literal["chaos-mesh", "istio"]
TARGETS: tuple[Target, ...] = ("chaos-mesh", "istio")
CHAOS_MESH_API = "chaos-mesh.org/v1alpha1"
ISTIO_API = "networking.istio.io/v1"
CLUSTER_DOMAIN = "svc.cluster.local"
# Bandwidth shaping: how many bytes may wait for tokens, and burst at once (tc's tbf).
BANDWIDTH_LIMIT_BYTES = 1 << 20
BANDWIDTH_BUFFER_BYTES = 1 << 14
_PLAIN_PATH = re.compile(r"^[A-Za-z0-9/_.~-]*$")


class ExportError(UserError):
    """A fault the chosen engine cannot express faithfully: one line naming it and why."""


class Entry(Protocol):
    """A timeline entry as the scenario model has it."""

    @property
    def name(self) -> str: ...
    @property
    def at(self) -> float: ...
    @property
    def for_(self) -> float: ...
    @property
    def fault(self) -> FaultSpec: ...


class ScenarioLike(Protocol):
    @property
    def title(self) -> str: ...
    @property
    def timeline(self) -> Sequence[Entry]: ...


@dataclass
class Export:
    """The resources, and the timeline entries left out (with why), for the YAML's header."""

    documents: list[dict[str, Any]]
    skipped: list[str] = field(default_factory=list)

    def to_yaml(self, header: str = "") -> str:
        lines = [f"# {line}" if line else "#" for line in header.splitlines()]
        lines += [f"# not exported: {reason}" for reason in self.skipped]
        text = "\n".join(lines) + ("\n" if lines else "")
        return text + (dump(self.documents) if self.documents else "")


def go_duration(seconds: float) -> str:
    """Seconds as a Go duration (`40s`, `1500ms`), which both engines read."""
    ms = round(seconds * 1000)
    return f"{ms // 1000}s" if ms % 1000 == 0 else f"{ms}ms"


def object_name(text: str) -> str:
    """Any text as a DNS-1123 object name."""
    name = re.sub(r"[^a-z0-9-]+", "-", text.lower()).strip("-")
    return (name or "faultline")[:63].rstrip("-")


def _edge(topology: Topology, name: str, entry: str) -> Edge:
    try:
        return topology.edge(name)
    except UserError:
        known = ", ".join(e.proxy_name for e in topology.edges)
        raise ExportError(f"{entry}: unknown edge {name!r} (edges: {known})") from None


def _pods(name: str, namespace: str) -> dict[str, Any]:
    return {"namespaces": [namespace], "labelSelectors": selector(name)}


def _edge_address(topology: Topology, edge: Edge, namespace: str) -> str:
    return f"{edge_service(edge)}.{namespace}.{CLUSTER_DOMAIN}:{edge_port(topology, edge)}"


# -- Chaos Mesh ------------------------------------------------------------------------------


def _network(
    topology: Topology, edge: Edge, namespace: str, action: str, **detail: Any
) -> tuple[str, dict[str, Any]]:
    spec = {
        "action": action,
        "mode": "all",
        "selector": _pods(edge.source, namespace),
        "direction": "to",
        "externalTargets": [_edge_address(topology, edge, namespace)],
        **detail,
    }
    return "NetworkChaos", spec


def _toxic(
    topology: Topology, fault: ToxicFault, namespace: str, entry: str
) -> tuple[str, dict[str, Any]]:
    edge = _edge(topology, fault.edge, entry)
    attrs = fault.attributes
    if fault.toxicity < 1.0 and fault.type != "timeout":
        raise ExportError(
            f"{entry}: a toxic on {fault.toxicity:.0%} of connections has no Chaos Mesh "
            "equivalent (its loss and delay act per packet)"
        )
    if fault.type == "latency":
        delay = {"latency": f"{int(attrs.get('latency', 0))}ms"}
        if attrs.get("jitter"):
            delay["jitter"] = f"{int(attrs['jitter'])}ms"
        return _network(topology, edge, namespace, "delay", delay=delay)
    if fault.type == "timeout":
        # Data swallowed: every packet to the edge dropped, on the toxic's share of them.
        loss = f"{round(fault.toxicity * 100):d}"
        return _network(topology, edge, namespace, "loss", loss={"loss": loss})
    if fault.type == "bandwidth":
        rate = f"{int(attrs.get('rate', 0))}kbps"  # Toxiproxy's KB/s; Chaos Mesh's kbps is KB/s
        detail = {"rate": rate, "limit": BANDWIDTH_LIMIT_BYTES, "buffer": BANDWIDTH_BUFFER_BYTES}
        return _network(topology, edge, namespace, "bandwidth", bandwidth=detail)
    raise ExportError(
        f"{entry}: Toxiproxy's {fault.type} toxic has no Chaos Mesh equivalent "
        "(latency, timeout and bandwidth do)"
    )


def _http_chaos(
    topology: Topology, fault: HttpFault, namespace: str, entry: str
) -> tuple[str, dict[str, Any]]:
    edge = _edge(topology, fault.edge, entry)
    if edge.kind != "http":
        raise ExportError(f"{entry}: {fault.edge} is not an HTTP edge")
    if fault.rate < 1.0:
        raise ExportError(
            f"{entry}: HTTPChaos hits every matching request, not {fault.rate:.0%} of them; "
            "export it with --export istio"
        )
    if not _PLAIN_PATH.match(fault.path):
        raise ExportError(
            f"{entry}: path {fault.path!r} is a regular expression; HTTPChaos matches paths "
            "by wildcard only"
        )
    spec: dict[str, Any] = {
        "mode": "all",
        "selector": _pods(edge.target, namespace),
        "port": topology.services[edge.target].port,
        "path": f"*{fault.path}*" if fault.path else "*",
    }
    if fault.method:
        spec["method"] = fault.method.upper()
    if fault.status is not None:
        spec |= {"target": "Response", "replace": {"code": fault.status}}
    else:
        spec |= {"target": "Request", "delay": f"{fault.latency_ms}ms"}
    return "HTTPChaos", spec


def chaos_specs(
    topology: Topology, fault: FaultSpec, namespace: str, entry: str
) -> list[tuple[str, dict[str, Any]]]:
    """The Chaos Mesh kinds and specs that inject `fault` (without a duration: the workflow
    times them)."""
    if isinstance(fault, ToxicFault):
        return [_toxic(topology, fault, namespace, entry)]
    if isinstance(fault, HttpFault):
        return [_http_chaos(topology, fault, namespace, entry)]
    if isinstance(fault, DownFault):
        edges = [_edge(topology, name, entry) for name in fault.edges]
        return [_network(topology, edge, namespace, "partition") for edge in edges]
    if isinstance(fault, DatabaseFault):
        edges = [e for e in topology.edges_from(fault.service) if e.kind == "postgres"]
        if not edges:
            raise ExportError(f"{entry}: service {fault.service!r} has no database edge")
        if fault.latency_ms:
            delay = {"latency": f"{fault.latency_ms}ms"}
            return [_network(topology, edges[0], namespace, "delay", delay=delay)]
        return [_network(topology, edges[0], namespace, "partition")]
    if isinstance(fault, BrokerFault):
        edges = [e for e in topology.edges if e.kind == "rabbitmq"]
        return [_network(topology, edge, namespace, "partition") for edge in edges]
    if isinstance(fault, ProcessFault):
        if fault.service not in topology.services:
            raise ExportError(f"{entry}: unknown service {fault.service!r}")
        action = "pod-kill" if fault.action == "restart" else "pod-failure"
        spec = {"action": action, "mode": "all", "selector": _pods(fault.service, namespace)}
        return [("PodChaos", spec)]
    raise ExportError(f"{entry}: {type(fault).__name__} cannot be exported")


_FIELD = {"NetworkChaos": "networkChaos", "PodChaos": "podChaos", "HTTPChaos": "httpChaos"}


def chaos_mesh(
    scenario: ScenarioLike,
    topology: Topology,
    *,
    name: str | None = None,
    namespace: str = NAMESPACE,
) -> Export:
    """One Chaos Mesh `Workflow` that replays the scenario's timeline."""
    workflow = object_name(name or scenario.title)
    templates: list[dict[str, Any]] = []
    branches = []
    for entry in scenario.timeline:
        base = object_name(entry.name)
        faults = []
        for i, (kind, spec) in enumerate(chaos_specs(topology, entry.fault, namespace, entry.name)):
            part = base if i == 0 else f"{base}-{i + 1}"
            faults.append(part)
            templates.append(
                {
                    "name": part,
                    "templateType": kind,
                    "deadline": go_duration(entry.for_),
                    _FIELD[kind]: spec,
                }
            )
        if len(faults) > 1:  # several resources (edges) struck together
            templates.append(
                {
                    "name": f"{base}-all",
                    "templateType": "Parallel",
                    "deadline": go_duration(entry.for_),
                    "children": faults,
                }
            )
            faults = [f"{base}-all"]
        steps = list(faults)
        if entry.at > 0:
            templates.append(
                {
                    "name": f"{base}-wait",
                    "templateType": "Suspend",
                    "deadline": go_duration(entry.at),
                }
            )
            steps = [f"{base}-wait", *faults]
        templates.append({"name": f"{base}-timeline", "templateType": "Serial", "children": steps})
        branches.append(f"{base}-timeline")
    entry_name = "run"  # a phase name no timeline entry may take
    templates.insert(0, {"name": entry_name, "templateType": "Parallel", "children": branches})
    document = {
        "apiVersion": CHAOS_MESH_API,
        "kind": "Workflow",
        "metadata": {
            "name": workflow,
            "namespace": namespace,
            "labels": {"app.kubernetes.io/part-of": "faultline"},
            "annotations": {"faultline/scenario": scenario.title},
        },
        "spec": {"entry": entry_name, "templates": templates},
    }
    return Export([document])


# -- Istio -----------------------------------------------------------------------------------


def _istio_regex(path: str) -> str:
    """The fault's path (a regular expression searched anywhere, as the proxy server does) as
    Istio's `uri.regex`, which must match the whole path."""
    body = path
    anchored_start = body.startswith("^")
    anchored_end = body.endswith("$") and not body.endswith("\\$")
    body = body[1 if anchored_start else 0 : len(body) - 1 if anchored_end else len(body)]
    return ("" if anchored_start else ".*") + body + ("" if anchored_end else ".*")


Route = tuple[Edge, dict[str, Any], dict[str, Any]]  # edge, extra match, fault


def _istio_routes(topology: Topology, fault: FaultSpec, entry: str) -> list[Route]:
    """(edge, match, fault) per VirtualService; `ExportError` when Istio cannot express it."""
    if isinstance(fault, HttpFault):
        edge = _edge(topology, fault.edge, entry)
        match: dict[str, Any] = {}
        if fault.method:
            match["method"] = {"exact": fault.method.upper()}
        if fault.path:
            match["uri"] = {"regex": _istio_regex(fault.path)}
        if fault.status is not None:
            percentage = {"value": round(fault.rate * 100, 3)}
            return [
                (edge, match, {"abort": {"httpStatus": fault.status, "percentage": percentage}})
            ]
        delay = {"fixedDelay": f"{fault.latency_ms}ms", "percentage": {"value": 100.0}}
        return [(edge, match, {"delay": delay})]
    if isinstance(fault, ToxicFault) and fault.type == "latency":
        edge = _edge(topology, fault.edge, entry)
        ms = int(fault.attributes.get("latency", 0))
        delay = {"fixedDelay": f"{ms}ms", "percentage": {"value": round(fault.toxicity * 100, 3)}}
        return [(edge, {}, {"delay": delay})]
    if isinstance(fault, DownFault):
        # What the caller's sidecar answers when nothing behind the edge is reachable.
        abort = {"httpStatus": 503, "percentage": {"value": 100.0}}
        return [(_edge(topology, name, entry), {}, {"abort": abort}) for name in fault.edges]
    raise ExportError(f"{entry} ({fault.describe()}): Istio injects faults on HTTP only")


def istio(
    scenario: ScenarioLike,
    topology: Topology,
    *,
    name: str | None = None,
    namespace: str = NAMESPACE,
) -> Export:
    """One `VirtualService` per timeline entry Istio can express, on the edge's Service and
    for the caller's pods only; the others are listed in `skipped`."""
    prefix = object_name(name or scenario.title)
    export = Export([])
    for entry in scenario.timeline:
        try:
            routes = _istio_routes(topology, entry.fault, entry.name)
        except ExportError as exc:
            export.skipped.append(str(exc))
            continue
        tcp = [edge.proxy_name for edge, _, _ in routes if edge.kind != "http"]
        if tcp:
            export.skipped.append(
                f"{entry.name} ({entry.fault.describe()}): {', '.join(tcp)} is not an HTTP "
                "edge; Istio injects faults on HTTP only"
            )
            continue
        for route in routes:
            suffix = f"-{edge_service(route[0])}" if len(routes) > 1 else ""
            name = object_name(f"{prefix}-{entry.name}{suffix}")
            meta = {"name": name, "namespace": namespace}
            export.documents.append(_virtual_service(scenario, entry, meta, topology, route))
    return export


def _virtual_service(
    scenario: ScenarioLike,
    entry: Entry,
    meta: dict[str, str],
    topology: Topology,
    route: Route,
) -> dict[str, Any]:
    edge, match, fault = route
    host = edge_service(edge)
    route_match = {**match, "sourceLabels": selector(edge.source)}
    return {
        "apiVersion": ISTIO_API,
        "kind": "VirtualService",
        "metadata": {
            **meta,
            "labels": {"app.kubernetes.io/part-of": "faultline"},
            "annotations": {
                "faultline/scenario": scenario.title,
                "faultline/fault": entry.fault.describe(),
                "faultline/at": go_duration(entry.at),
                "faultline/for": go_duration(entry.for_),
            },
        },
        "spec": {
            "hosts": [host],
            "http": [
                {
                    "name": object_name(entry.name),
                    "match": [route_match],
                    "fault": fault,
                    "route": [
                        {
                            "destination": {
                                "host": host,
                                "port": {"number": edge_port(topology, edge)},
                            }
                        }
                    ],
                },
                # Everything else on this host is routed untouched.
                {"route": [{"destination": {"host": host}}]},
            ],
        },
    }


def export(
    scenario: ScenarioLike,
    target: Target,
    topology: Topology,
    *,
    name: str | None = None,
    namespace: str = NAMESPACE,
) -> Export:
    if target == "chaos-mesh":
        return chaos_mesh(scenario, topology, name=name, namespace=namespace)
    if target == "istio":
        return istio(scenario, topology, name=name, namespace=namespace)
    raise ExportError(f"unknown export target {target!r} (targets: {', '.join(TARGETS)})")


def render(
    scenario: ScenarioLike,
    target: Target,
    topology: Topology,
    *,
    source: str,
    namespace: str = NAMESPACE,
) -> str:
    """The YAML `faultline gameday FILE --export TARGET` prints; `source` is the file's path
    (its stem names the objects)."""
    stem = source.replace("\\", "/").rsplit("/", 1)[-1].rsplit(".", 1)[0]
    result = export(scenario, target, topology, name=stem, namespace=namespace)
    header = f"{scenario.title}\nfaultline gameday {source} --export {target}"
    env = getattr(scenario, "env", None) or {}
    if env:  # service settings are the deployment's, not the fault engine's
        settings = ", ".join(f"{k}={v}" for k, v in env.items())
        header += f"\nthe suite must run with {settings} (set it on its Deployments)"
    if target == "istio" and result.documents:
        header += "\napply each VirtualService at its faultline/at, delete it faultline/for later"
    return result.to_yaml(header)
