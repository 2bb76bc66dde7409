"""Game days exported to a cluster's fault engine: every resource validates against the Chaos
Mesh and Istio CRD schemas (offline), names what the generated Kubernetes manifests define, and
keeps the timeline's `at` and `for`."""

from __future__ import annotations

import copy
import subprocess
import sys
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pytest
import yaml
from jsonschema import Draft202012Validator

from chaos.faults.spec import FaultSpec, parse
from harness.kubernetes import NAMESPACE
from harness.topology import load_topology
from scenarios.export import ExportError, chaos_mesh, export, go_duration, istio, render
from scenarios.loader import load

pytestmark = pytest.mark.unit

ROOT = Path(__file__).resolve().parents[2]
CRDS = Path(__file__).parent / "crds"
BASE = ROOT / "deploy" / "kubernetes" / "base"
PORT = {name: service.port for name, service in load_topology().services.items()}


@cache
def validator(engine: str) -> Draft202012Validator:
    schema = yaml.safe_load((CRDS / f"{engine}.schema.yaml").read_text())
    Draft202012Validator.check_schema(schema)
    return Draft202012Validator(schema)


def problems(engine: str, document: dict[str, Any]) -> list[str]:
    return [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message}"
        for e in validator(engine).iter_errors(document)
    ]


@cache
def manifests() -> list[dict[str, Any]]:
    return [
        doc
        for path in sorted(BASE.glob("*.yaml"))
        for doc in yaml.safe_load_all(path.read_text())
        if doc and doc.get("kind") != "Kustomization"
    ]


def pod_labels() -> list[dict[str, str]]:
    return [
        d["spec"]["template"]["metadata"]["labels"]
        for d in manifests()
        if d["kind"] == "Deployment"
    ]


def service_ports() -> dict[str, set[int]]:
    return {
        d["metadata"]["name"]: {p["port"] for p in d["spec"]["ports"]}
        for d in manifests()
        if d["kind"] == "Service"
    }


def container_ports(labels: dict[str, str]) -> set[int]:
    return {
        p["containerPort"]
        for d in manifests()
        if d["kind"] == "Deployment"
        and labels.items() <= d["spec"]["template"]["metadata"]["labels"].items()
        for c in d["spec"]["template"]["spec"]["containers"]
        for p in c["ports"]
    }


def selects_pods(selector: dict[str, Any]) -> bool:
    assert selector["namespaces"] == [NAMESPACE]
    wanted = selector["labelSelectors"].items()
    return any(wanted <= labels.items() for labels in pod_labels())


@dataclass(frozen=True)
class Entry:
    name: str
    at: float
    for_: float
    fault: FaultSpec


@dataclass(frozen=True)
class Scenario:
    title: str
    timeline: list[Entry] = field(default_factory=list)


def scenario(*entries: tuple[str, float, float, dict[str, Any]]) -> Scenario:
    return Scenario("Every kind of fault", [Entry(n, a, f, parse(d)) for n, a, f, d in entries])


# One entry of every fault kind both engines may meet.
EVERY_KIND = scenario(
    (
        "payments-slow",
        10,
        30,
        {
            "kind": "toxic",
            "edge": "bookings->payments",
            "type": "latency",
            "attributes": {"latency": 2500, "jitter": 100},
        },
    ),
    (
        "payments-blackhole",
        0,
        5,
        {
            "kind": "toxic",
            "edge": "bookings->payments",
            "type": "timeout",
            "attributes": {"timeout": 0},
        },
    ),
    (
        "thin-pipe",
        5,
        10,
        {
            "kind": "toxic",
            "edge": "gateway->facilities",
            "type": "bandwidth",
            "attributes": {"rate": 16},
        },
    ),
    (
        "bookings-503",
        20,
        10,
        {
            "kind": "http",
            "edge": "gateway->bookings",
            "status": 503,
            "method": "post",
            "path": "/bookings",
        },
    ),
    (
        "facilities-slow",
        1.5,
        2.25,
        {"kind": "http", "edge": "bookings->facilities", "latency_ms": 700},
    ),
    ("cut", 30, 20, {"kind": "down", "edges": ["gateway->bookings", "gateway->payments"]}),
    ("db-away", 40, 60, {"kind": "database", "service": "notifications"}),
    ("db-slow", 40, 60, {"kind": "database", "service": "bookings", "latency_ms": 300}),
    ("broker-away", 50, 60, {"kind": "broker"}),
    ("bookings-killed", 15, 10, {"kind": "process", "service": "bookings", "action": "kill"}),
    ("payments-paused", 15, 10, {"kind": "process", "service": "payments", "action": "pause"}),
    ("users-restarted", 15, 1, {"kind": "process", "service": "users", "action": "restart"}),
)


# HTTPChaos cannot hit a share of the requests; Istio can.
HALF = Entry(
    *scenario(
        (
            "bookings-half-503",
            20,
            10,
            {
                "kind": "http",
                "edge": "gateway->bookings",
                "status": 503,
                "rate": 0.5,
                "path": "^/bookings/[0-9a-f-]+$",
            },
        )
    )
    .timeline[0]
    .__dict__.values()
)
WITH_SHARE = Scenario(EVERY_KIND.title, [*EVERY_KIND.timeline, HALF])


def chaos_templates(document: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {t["name"]: t for t in document["spec"]["templates"]}


def test_chaos_mesh_workflow_of_every_fault_kind_validates_and_names_real_objects():
    (workflow,) = chaos_mesh(EVERY_KIND, load_topology()).documents
    assert problems("chaos-mesh", workflow) == []
    templates = chaos_templates(workflow)
    ports = service_ports()
    for template in templates.values():
        for key in ("networkChaos", "podChaos", "httpChaos"):
            spec = template.get(key)
            if spec is None:
                continue
            assert selects_pods(spec["selector"]), template
            for target in spec.get("externalTargets", []):
                host, port = target.rsplit(":", 1)
                service, namespace, *_ = host.split(".")
                assert namespace == NAMESPACE and int(port) in ports[service], target
            if key == "httpChaos":
                assert spec["port"] in container_ports(spec["selector"]["labelSelectors"])
    # Every child a Serial or Parallel names is a template.
    for template in templates.values():
        assert set(template.get("children", [])) <= templates.keys(), template


def test_chaos_mesh_keeps_the_timeline():
    (workflow,) = chaos_mesh(EVERY_KIND, load_topology()).documents
    templates = chaos_templates(workflow)
    entry = templates[workflow["spec"]["entry"]]
    assert entry["templateType"] == "Parallel"
    assert len(entry["children"]) == len(EVERY_KIND.timeline)
    for item in EVERY_KIND.timeline:
        serial = templates[f"{item.name}-timeline"]
        steps = [templates[name] for name in serial["children"]]
        if item.at > 0:
            wait, *rest = steps
            assert (wait["templateType"], wait["deadline"]) == ("Suspend", go_duration(item.at))
        else:
            rest = steps
            assert all(s["templateType"] != "Suspend" for s in steps)
        assert [s["deadline"] for s in rest] == [go_duration(item.for_)]
    # Two edges cut together: both partitions in one Parallel step, for the same window.
    cut = templates["cut-all"]
    assert [templates[c]["networkChaos"]["action"] for c in cut["children"]] == ["partition"] * 2
    assert {templates[c]["deadline"] for c in cut["children"]} == {"20s"}
    assert go_duration(1.5) == "1500ms" and go_duration(2.25) == "2250ms"


def test_chaos_mesh_maps_each_fault_to_its_action():
    (workflow,) = chaos_mesh(EVERY_KIND, load_topology()).documents
    t = chaos_templates(workflow)
    assert t["payments-slow"]["networkChaos"]["delay"] == {"latency": "2500ms", "jitter": "100ms"}
    assert t["payments-slow"]["networkChaos"]["externalTargets"] == [
        f"bookings-to-payments.{NAMESPACE}.svc.cluster.local:{PORT['payments']}"
    ]
    assert t["payments-blackhole"]["networkChaos"]["loss"] == {"loss": "100"}
    assert t["thin-pipe"]["networkChaos"]["bandwidth"]["rate"] == "16kbps"
    assert t["bookings-503"]["httpChaos"] | {"selector": None} == {
        "mode": "all",
        "selector": None,
        "port": PORT["bookings"],
        "path": "*/bookings*",
        "method": "POST",
        "target": "Response",
        "replace": {"code": 503},
    }
    assert t["facilities-slow"]["httpChaos"]["delay"] == "700ms"
    assert t["db-away"]["networkChaos"]["action"] == "partition"
    assert t["db-slow"]["networkChaos"]["externalTargets"][0].startswith("bookings-to-postgres.")
    broker = [t[c]["networkChaos"]["externalTargets"][0] for c in t["broker-away-all"]["children"]]
    assert len(broker) == sum(e.kind == "rabbitmq" for e in load_topology().edges)
    assert all(".svc.cluster.local:5672" in target for target in broker)
    assert t["bookings-killed"]["podChaos"]["action"] == "pod-failure"
    assert t["payments-paused"]["podChaos"]["action"] == "pod-failure"
    assert t["users-restarted"]["podChaos"]["action"] == "pod-kill"


def test_istio_exports_the_http_faults_and_lists_the_others():
    result = istio(WITH_SHARE, load_topology())
    for document in result.documents:
        assert problems("istio", document) == [], document["metadata"]["name"]
    ports = service_ports()
    by_fault = {}
    for document in result.documents:
        (host,) = document["spec"]["hosts"]
        route = document["spec"]["http"][0]
        destination = route["route"][0]["destination"]
        assert destination["host"] == host and destination["port"]["number"] in ports[host]
        (match,) = route["match"]
        assert any(match["sourceLabels"].items() <= labels.items() for labels in pod_labels())
        by_fault.setdefault(document["metadata"]["annotations"]["faultline/fault"], []).append(
            (host, match, route["fault"])
        )
    assert sorted(d["metadata"]["annotations"]["faultline/at"] for d in result.documents)[:1]
    (slow,) = [f for f in by_fault.values() if f[0][0] == "bookings-to-payments"]
    assert slow[0][2] == {"delay": {"fixedDelay": "2500ms", "percentage": {"value": 100.0}}}
    half = by_fault["HTTP 503 on ^/bookings/[0-9a-f-]+$ of gateway->bookings"]
    assert half == [
        (
            "gateway-to-bookings",
            {"uri": {"regex": "/bookings/[0-9a-f-]+"}, "sourceLabels": half[0][1]["sourceLabels"]},
            {"abort": {"httpStatus": 503, "percentage": {"value": 50.0}}},
        )
    ]
    post = by_fault["HTTP 503 on post /bookings of gateway->bookings"][0][1]
    assert post["method"] == {"exact": "POST"} and post["uri"] == {"regex": ".*/bookings.*"}
    cut = by_fault["gateway->bookings and gateway->payments down"]
    assert [host for host, _, _ in cut] == ["gateway-to-bookings", "gateway-to-payments"]
    skipped = " | ".join(result.skipped)
    for name in (
        "payments-blackhole",
        "thin-pipe",
        "db-away",
        "db-slow",
        "broker-away",
        "bookings-killed",
        "payments-paused",
        "users-restarted",
    ):
        assert name in skipped
    assert "facilities-slow" not in skipped
    assert result.to_yaml().count("# not exported: ") == len(result.skipped)


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        (
            {
                "kind": "toxic",
                "edge": "bookings->payments",
                "type": "slicer",
                "attributes": {"average_size": 10},
            },
            "slicer toxic has no Chaos Mesh equivalent",
        ),
        (
            {
                "kind": "toxic",
                "edge": "bookings->payments",
                "type": "latency",
                "attributes": {"latency": 10},
                "toxicity": 0.5,
            },
            "50% of connections",
        ),
        (
            {"kind": "http", "edge": "gateway->bookings", "status": 500, "rate": 0.1},
            "export it with --export istio",
        ),
        (
            {"kind": "http", "edge": "gateway->bookings", "status": 500, "path": "^/b.*$"},
            "by wildcard only",
        ),
        ({"kind": "http", "edge": "bookings->postgres", "status": 500}, "not an HTTP edge"),
        ({"kind": "down", "edges": ["bookings->nowhere"]}, "unknown edge 'bookings->nowhere'"),
    ],
)
def test_what_chaos_mesh_cannot_express_is_refused_in_one_line(fault, problem):
    with pytest.raises(ExportError, match=problem) as raised:
        export(scenario(("x", 1, 1, fault)), "chaos-mesh", load_topology())
    assert "\n" not in str(raised.value) and str(raised.value).startswith("x")


def _without(document: dict[str, Any], *path: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        node = node[key]
    del node[path[-1]]
    return changed


def _with(document: dict[str, Any], value: Any, *path: Any) -> dict[str, Any]:
    changed = copy.deepcopy(document)
    node = changed
    for key in path[:-1]:
        node = node[key]
    node[path[-1]] = value
    return changed


def test_the_schemas_refuse_what_the_engines_would():
    (workflow,) = chaos_mesh(EVERY_KIND, load_topology()).documents
    templates = workflow["spec"]["templates"]
    i = next(n for n, t in enumerate(templates) if t["name"] == "payments-slow")
    w = next(n for n, t in enumerate(templates) if t["templateType"] == "Suspend")
    nc = ("spec", "templates", i, "networkChaos")
    broken = {
        "a misspelt field": _with(workflow, ["x"], *nc, "externalTarget"),
        "a duration inside a workflow": _with(workflow, "30s", *nc, "duration"),
        "a delay without latency": _with(workflow, {"jitter": "1ms"}, *nc, "delay"),
        "an unknown action": _with(workflow, "slow", *nc, "action"),
        "a Suspend without deadline": _without(workflow, "spec", "templates", w, "deadline"),
        "a deadline that is no duration": _with(workflow, "30", "spec", "templates", w, "deadline"),
        "an upper-case name": _with(workflow, "Payments", "spec", "templates", i, "name"),
    }
    for what, document in broken.items():
        assert problems("chaos-mesh", document), what
    (service, *_) = istio(WITH_SHARE, load_topology()).documents
    route = ("spec", "http", 0)
    broken = {
        "an abort without status": _with(service, {"abort": {}}, *route, "fault"),
        "a zero delay": _with(service, {"delay": {"fixedDelay": "0s"}}, *route, "fault"),
        "two string matches": _with(
            service, [{"uri": {"exact": "/", "regex": ".*"}}], *route, "match"
        ),
        "an old API version": _with(service, "networking.istio.io/v1alpha2", "apiVersion"),
    }
    for what, document in broken.items():
        assert problems("istio", document), what


def test_rendered_yaml_reads_back_as_the_documents_with_a_commented_header():
    text = render(WITH_SHARE, "istio", load_topology(), source="scenarios/every-kind.yaml")
    assert text.startswith(
        "# Every kind of fault\n# faultline gameday scenarios/every-kind.yaml --export istio\n"
    )
    documents = [d for d in yaml.safe_load_all(text) if d]
    assert documents == istio(WITH_SHARE, load_topology(), name="every-kind").documents
    assert all(d["metadata"]["name"].startswith("every-kind-") for d in documents)
    (workflow,) = yaml.safe_load_all(
        render(EVERY_KIND, "chaos-mesh", load_topology(), source="every-kind.yaml")
    )
    assert workflow["metadata"]["name"] == "every-kind"
    with pytest.raises(ExportError, match="unknown export target 'litmus'"):
        render(EVERY_KIND, "litmus", load_topology(), source="x.yaml")  # type: ignore[arg-type]


SHIPPED = sorted((ROOT / "scenarios").glob("*.yaml"))


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_every_shipped_scenario_exports_and_validates(path: Path):
    topology = load_topology()
    scenario = load(path, topology=topology)
    (workflow,) = yaml.safe_load_all(render(scenario, "chaos-mesh", topology, source=str(path)))
    assert problems("chaos-mesh", workflow) == []
    assert workflow["metadata"]["name"] == path.stem
    templates = chaos_templates(workflow)
    for item in scenario.timeline:
        steps = [templates[n] for n in templates[f"{item.name}-timeline"]["children"]]
        waits = [s["deadline"] for s in steps if s["templateType"] == "Suspend"]
        assert waits == ([go_duration(item.at)] if item.at else [])
        assert steps[-1]["deadline"] == go_duration(item.for_)
    text = render(scenario, "istio", topology, source=str(path))
    services = [d for d in yaml.safe_load_all(text) if d]
    for document in services:
        assert problems("istio", document) == []
    # Each entry is either a VirtualService or named as not exported, never lost silently.
    for item in scenario.timeline:
        exported = any(
            d["metadata"]["annotations"]["faultline/fault"] == item.fault.describe()
            for d in services
        )
        assert exported != (f"# not exported: {item.name} " in text), item.name
    if scenario.env:
        assert "# the suite must run with " in text


def test_the_cli_prints_the_export_and_refuses_an_unknown_engine(tmp_path: Path):
    def faultline(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "faultline", "gameday", *args],
            capture_output=True,
            text=True,
            timeout=60,
            cwd=ROOT,
        )

    done = faultline("scenarios/gateway-bookings-cut.yaml", "--export", "istio")
    assert done.returncode == 0, done.stderr
    documents = [d for d in yaml.safe_load_all(done.stdout) if d]
    assert [d["kind"] for d in documents] == ["VirtualService"]
    assert documents[0]["spec"]["hosts"] == ["gateway-to-bookings"]
    refused = faultline("scenarios/gateway-bookings-cut.yaml", "--export", "litmus")
    assert refused.returncode == 2 and "litmus" in refused.stderr
    assert len(refused.stderr.strip().splitlines()) == 1, refused.stderr
