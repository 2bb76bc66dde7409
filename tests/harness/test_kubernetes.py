"""The Kubernetes manifests: in sync with the topology, valid for the API server, wired through
Toxiproxy edge by edge, and complete (every reference resolves) in each overlay. All offline."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from functools import cache
from pathlib import Path
from urllib.parse import urlsplit

import kubernetes_validate
import pytest
import yaml
from dockerfile_parse import DockerfileParser
from kustomize_tree import Cluster, build, container, container_ports, host_and_port

from harness import compose
from harness import kubernetes as k8s
from harness.topology import load_topology

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]
TREE = ROOT / "deploy" / "kubernetes"
OVERLAYS = ("demo", "external")
# The oldest and the newest Kubernetes whose schemas kubernetes-validate bundles.
VERSIONS = (kubernetes_validate.utils.all_versions()[0], kubernetes_validate.utils.latest_version())


@pytest.fixture(autouse=True, scope="module")
def _schemas_read_once():
    # kubernetes-validate reads its schema files again on every call; they do not change
    # within a run, and reading them once makes the validations ten times faster.
    with pytest.MonkeyPatch.context() as patch:
        read = kubernetes_validate.utils.schema_contents
        patch.setattr(kubernetes_validate.utils, "schema_contents", cache(read))
        yield


@cache
def cluster(overlay: str) -> Cluster:
    return Cluster(build(TREE / "overlays" / overlay))


def suite_deployments(c: Cluster) -> list[dict]:
    return [d for d in c.of_kind("Deployment") if d["metadata"]["name"] in load_topology().services]


# -- in sync, and valid ---------------------------------------------------------------------------


def test_committed_manifests_equal_what_the_topology_generates():
    stale = k8s.stale(load_topology(), TREE)
    assert stale == [], f"regenerate with `faultline kubernetes`: {stale}"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_object_of_each_overlay_validates_against_the_kubernetes_schemas(overlay):
    docs = cluster(overlay).docs
    assert len(docs) > 30
    for version in VERSIONS:
        for doc in docs:
            # strict: a field the API does not know (a typo) is an error, not ignored.
            kubernetes_validate.validate(doc, version, strict=True)


@pytest.mark.parametrize(
    ("where", "value"),
    [
        (("readinessProbe", "httpGet", "paht"), "/ready"),  # a misspelt field
        (("resources", "limits", "memory"), ["512Mi"]),  # a wrong type
        (("ports", 0, "containerPort"), "http"),
    ],
)
def test_the_schema_check_rejects_a_broken_deployment(where, value):
    doc = json.loads(json.dumps(cluster("demo").get("Deployment", "bookings")))
    target = container(doc)
    for key in where[:-1]:
        target = target[key]
    target[where[-1]] = value
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="kubectl is not installed")
@pytest.mark.parametrize("overlay", OVERLAYS)
def test_kubectl_kustomize_builds_each_overlay_to_the_same_objects(overlay):
    result = subprocess.run(
        ["kubectl", "kustomize", str(TREE / "overlays" / overlay)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    built = [d for d in yaml.safe_load_all(result.stdout) if d]

    def canonical(docs):
        return sorted(json.dumps(d, sort_keys=True) for d in docs)

    assert canonical(built) == canonical(cluster(overlay).docs)


# -- wired as on one machine: every edge through Toxiproxy ----------------------------------------


def _toxiproxy_config(c: Cluster) -> dict[str, dict]:
    deploy = c.get("Deployment", "toxiproxy")
    volume = deploy["spec"]["template"]["spec"]["volumes"][0]["configMap"]["name"]
    text = c.get("ConfigMap", volume)["data"][compose.TOXIPROXY_FILE]
    return {p["name"]: p for p in json.loads(text)}


def test_every_edge_goes_from_its_caller_through_a_toxiproxy_proxy_to_its_target():
    topo = load_topology()
    c = cluster("demo")
    proxies = _toxiproxy_config(c)
    assert set(proxies) == {e.proxy_name for e in topo.edges}
    toxiproxy = c.get("Deployment", "toxiproxy")
    for edge in topo.edges:
        # The caller's URL (plain or from its Secret) names the edge's own Service ...
        url = c.env(c.get("Deployment", edge.source))[edge.env_var]
        host, port = host_and_port(url)
        edge_svc = c.get("Service", host)
        assert edge_svc["metadata"]["annotations"]["faultline/proxy"] == edge.proxy_name
        # ... which sends that port to the Toxiproxy pod, on the port of this edge's proxy ...
        assert c.selected(edge_svc["spec"]["selector"]) == [toxiproxy]
        (svc_port,) = [p for p in edge_svc["spec"]["ports"] if p["port"] == port]
        proxy = proxies[edge.proxy_name]
        assert int(proxy["listen"].rsplit(":", 1)[1]) == svc_port["targetPort"]
        assert svc_port["targetPort"] in container_ports(toxiproxy)
        # ... whose upstream is the target's Service, landing on a port the target listens on.
        up_host, up_port = proxy["upstream"].rsplit(":", 1)
        target_svc = c.get("Service", up_host)
        (target_port,) = [p for p in target_svc["spec"]["ports"] if p["port"] == int(up_port)]
        (target,) = c.selected(target_svc["spec"]["selector"])
        assert target["metadata"]["name"] == k8s.dns_name(edge.target)
        assert target_port["targetPort"] in container_ports(target)


def test_no_service_is_configured_to_reach_another_except_through_an_edge_service():
    c = cluster("demo")
    edge_services = {
        s["metadata"]["name"]
        for s in c.of_kind("Service")
        if s["metadata"]["labels"]["app.kubernetes.io/component"] == "edge"
    }
    for deploy in suite_deployments(c):
        urls = [v for v in c.env(deploy).values() if v and "://" in v]
        assert urls, deploy["metadata"]["name"]
        for url in urls:
            assert urlsplit(url).hostname in edge_services, url


def test_database_and_broker_urls_carry_the_demo_servers_credentials_and_own_databases():
    topo = load_topology()
    c = cluster("demo")
    pg_password = c.get("Secret", "postgres")["stringData"]["POSTGRES_PASSWORD"]
    mq = c.get("Secret", "rabbitmq")["stringData"]
    databases = set()
    for name, service in topo.services.items():
        env = c.env(c.get("Deployment", name))
        if service.database:
            url = urlsplit(env["SVC_DATABASE_URL"])
            assert url.scheme == "postgresql+psycopg"
            assert (url.username, url.password) == ("postgres", pg_password)
            databases.add(url.path)
        if "SVC_AMQP_URL" in env:
            url = urlsplit(env["SVC_AMQP_URL"])
            user, password = mq["RABBITMQ_DEFAULT_USER"], mq["RABBITMQ_DEFAULT_PASS"]
            assert (url.username, url.password) == (user, password)
    assert len(databases) == sum(1 for s in topo.services.values() if s.database)


# -- complete: every reference resolves -----------------------------------------------------------


def test_the_demo_overlay_provides_every_secret_and_key_its_workloads_read():
    c = cluster("demo")
    refs = c.secret_refs()
    assert ("gateway-secrets", "SVC_JWT_SECRET") in refs
    assert [r for r in refs if not c.provided(r)] == []


def test_the_secrets_command_provides_exactly_what_the_external_overlay_lacks():
    c = cluster("external")
    missing = {r for r in c.secret_refs() if not c.provided(r)}
    env = {
        "FAULTLINE_POSTGRES_URL": "postgresql://app:pw@db.example.org:5432/postgres",
        "FAULTLINE_RABBITMQ_URL": "amqp://app:pw@mq.example.org:5672/suite",
    }
    produced = {
        (s["metadata"]["name"], key)
        for s in k8s.secrets_from_environment(load_topology(), env)
        for key in s["stringData"]
    }
    assert missing == produced
    # The servers themselves are named, not run, in the external overlay.
    assert not c.of_kind("StatefulSet")
    for name in ("postgres", "rabbitmq"):
        assert c.get("Service", name)["spec"]["type"] == "ExternalName"


@pytest.mark.parametrize("overlay", OVERLAYS)
def test_every_service_selects_exactly_one_workload_on_ports_its_pods_expose(overlay):
    c = cluster(overlay)
    for svc in c.of_kind("Service"):
        if svc["spec"].get("type") == "ExternalName":
            continue
        (workload,) = c.selected(svc["spec"]["selector"])
        for port in svc["spec"]["ports"]:
            assert port["targetPort"] in container_ports(workload), svc["metadata"]["name"]


def test_each_workload_is_targeted_alone_by_its_name_label_as_chaos_mesh_selectors_do():
    c = cluster("demo")
    for workload in c.workloads():
        name = workload["metadata"]["name"]
        labels = {"app.kubernetes.io/name": name, "app.kubernetes.io/part-of": "faultline"}
        assert c.selected(labels) == [workload]
        assert workload["spec"]["selector"]["matchLabels"] == labels


# -- what each workload must have -----------------------------------------------------------------


def test_each_service_has_readiness_on_ready_liveness_on_health_and_resources():
    c = cluster("demo")
    deployments = suite_deployments(c)
    assert len(deployments) == len(load_topology().services)
    for deploy in deployments:
        main = container(deploy)
        assert main["readinessProbe"]["httpGet"]["path"] == "/ready"
        assert main["livenessProbe"]["httpGet"]["path"] == "/health"
        assert main["readinessProbe"]["httpGet"]["port"] in container_ports(deploy)
    for workload in c.workloads():
        for item in workload["spec"]["template"]["spec"]["containers"]:
            assert {"cpu", "memory"} <= set(item["resources"]["requests"])
            assert {"cpu", "memory"} <= set(item["resources"]["limits"])


def test_gateway_and_bookings_scale_by_cpu_and_leave_the_replica_count_to_their_hpa():
    c = cluster("demo")
    hpas = {h["metadata"]["name"]: h for h in c.of_kind("HorizontalPodAutoscaler")}
    assert set(hpas) == {"gateway", "bookings"}
    for hpa in hpas.values():
        target = hpa["spec"]["scaleTargetRef"]
        deploy = c.get(target["kind"], target["name"])
        assert "replicas" not in deploy["spec"]  # an applied count would fight the HPA
        assert container(deploy)["resources"]["requests"]["cpu"]  # utilisation needs a request
        assert hpa["spec"]["minReplicas"] <= hpa["spec"]["maxReplicas"]
    assert hpas["gateway"]["spec"]["minReplicas"] >= 2


def test_suite_pods_run_as_the_images_non_root_user_without_privileges():
    parser = DockerfileParser(path=str(ROOT / "Dockerfile"))
    image_user = parser.structure[[i["instruction"] for i in parser.structure].index("USER")]
    uid = int(image_user["value"].split(":")[0])
    c = cluster("demo")
    for deploy in [*suite_deployments(c), c.get("Deployment", "toxiproxy")]:
        pod = deploy["spec"]["template"]["spec"]
        assert pod["securityContext"]["runAsNonRoot"] is True
        assert pod["automountServiceAccountToken"] is False
        ctx = container(deploy)["securityContext"]
        assert ctx["allowPrivilegeEscalation"] is False and ctx["readOnlyRootFilesystem"] is True
        assert ctx["capabilities"]["drop"] == ["ALL"]
    for deploy in suite_deployments(c):
        assert deploy["spec"]["template"]["spec"]["securityContext"]["runAsUser"] == uid
        assert container(deploy)["image"] == compose.SUITE_IMAGE


def test_credentials_reach_pods_only_through_secrets():
    c = cluster("demo")
    for deploy in suite_deployments(c):
        for var in container(deploy)["env"]:
            if var["name"] in ("SVC_DATABASE_URL", "SVC_AMQP_URL", "SVC_JWT_SECRET"):
                assert "valueFrom" in var and "value" not in var


def test_toxiproxy_is_the_real_image_one_replica_and_restarts_when_its_proxies_change():
    c = cluster("demo")
    deploy = c.get("Deployment", "toxiproxy")
    assert container(deploy)["image"] == compose.TOXIPROXY_IMAGE
    assert deploy["spec"]["replicas"] == 1
    assert deploy["spec"]["strategy"]["type"] == "Recreate"
    config = c.get("ConfigMap", "toxiproxy-config")["data"][compose.TOXIPROXY_FILE]
    digest = deploy["spec"]["template"]["metadata"]["annotations"]["faultline/config-sha256"]
    assert digest == hashlib.sha256(config.encode()).hexdigest()
    assert json.loads(config) == compose.toxiproxy_config(load_topology())


# -- another topology -----------------------------------------------------------------------------


def test_generation_follows_another_topology(tmp_path):
    raw = yaml.safe_load((ROOT / "system_under_test" / "topology.yaml").read_text())
    raw["edges"] = [e for e in raw["edges"] if e["to"] != "rabbitmq"]
    raw["services"]["audit_log"] = {"app": "x.audit:app", "port": 8090, "database": "audit"}
    raw["edges"].append({"from": "audit_log", "to": "postgres", "kind": "postgres"})
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(raw))
    topo = load_topology(path)
    k8s.write(topo, tmp_path / "out")
    c = Cluster(build(tmp_path / "out" / "overlays" / "demo"))
    assert c.has("Deployment", "audit-log") and c.has("Service", "audit-log-to-postgres")
    assert not [s for s in c.of_kind("Service") if s["metadata"]["name"].endswith("-to-rabbitmq")]
    assert "SVC_AMQP_URL" not in c.env(c.get("Deployment", "bookings"))
    assert c.env(c.get("Deployment", "audit-log"))["SVC_DATABASE_URL"].endswith("/faultline_audit")
    for doc in c.docs:
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)


# -- the command ----------------------------------------------------------------------------------


def faultline(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if not k.startswith("FAULTLINE_")}
    full_env.update(FAULTLINE_HOME=str(cwd / ".faultline"), **env)
    return subprocess.run(
        [sys.executable, "-m", "faultline", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_kubernetes_command_check_exits_1_naming_stale_files_and_0_when_in_sync(tmp_path):
    assert (
        faultline("kubernetes", "--check", "--output-dir", str(TREE), cwd=tmp_path).returncode == 0
    )
    result = faultline("kubernetes", "--check", "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1 and "base/gateway.yaml" in result.stderr


def test_writing_removes_the_files_it_no_longer_generates_and_keeps_the_users(tmp_path):
    topo = load_topology()
    k8s.write(topo, tmp_path)
    assert k8s.stale(topo, tmp_path) == []
    # An orphan from an older topology is reported, then removed; a file of the user's stays.
    orphan, own = tmp_path / "base" / "old-service.yaml", tmp_path / "base" / "notes.yaml"
    orphan.write_text((tmp_path / "base" / "users.yaml").read_text())
    own.write_text("# mine\n")
    assert k8s.stale(topo, tmp_path) == ["base/old-service.yaml"]
    k8s.write(topo, tmp_path)
    assert not orphan.exists() and own.exists()
    assert k8s.stale(topo, tmp_path) == []


def test_secrets_command_prints_applyable_secrets_or_one_line_naming_what_is_missing(tmp_path):
    result = faultline(
        "kubernetes",
        "--secrets",
        cwd=tmp_path,
        FAULTLINE_POSTGRES_URL="postgresql://app:s3cret@db.internal:6432/postgres",
        FAULTLINE_RABBITMQ_URL="amqp://app:pw@mq.internal:5672/suite",
        SVC_JWT_SECRET="signing-key",
    )
    assert result.returncode == 0, result.stderr
    secrets = {d["metadata"]["name"]: d for d in yaml.safe_load_all(result.stdout)}
    for doc in secrets.values():
        kubernetes_validate.validate(doc, VERSIONS[-1], strict=True)
    data = secrets["bookings-secrets"]["stringData"]
    # Credentials and vhost kept, address replaced by the edge Service on the standard port.
    assert data["SVC_DATABASE_URL"] == (
        "postgresql+psycopg://app:s3cret@bookings-to-postgres:5432/faultline_bookings"
    )
    assert data["SVC_AMQP_URL"] == "amqp://app:pw@bookings-to-rabbitmq:5672/suite"
    assert secrets["gateway-secrets"]["stringData"] == {"SVC_JWT_SECRET": "signing-key"}

    result = faultline("kubernetes", "--secrets", cwd=tmp_path)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert "FAULTLINE_POSTGRES_URL" in line and "FAULTLINE_RABBITMQ_URL" in line
