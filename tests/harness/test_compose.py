"""docker-compose.yml and toxiproxy.json: in sync with the topology, and wired through proxies."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness import compose
from harness.topology import load_topology

pytestmark = pytest.mark.unit
ROOT = Path(__file__).resolve().parents[2]


def test_committed_files_equal_what_the_topology_generates():
    stale = compose.stale(load_topology(), ROOT)
    assert stale == [], f"regenerate with `faultline compose`: {stale}"


def test_every_edge_has_a_proxy_and_every_service_calls_through_it():
    topo = load_topology()
    doc = yaml.safe_load((ROOT / "docker-compose.yml").read_text())
    proxies = {p["name"]: p for p in json.loads((ROOT / "toxiproxy.json").read_text())}
    assert set(proxies) == {e.proxy_name for e in topo.edges}
    services = doc["services"]
    assert {"postgres", "rabbitmq", "toxiproxy", *topo.services} == set(services)
    assert services["toxiproxy"]["image"].startswith("ghcr.io/shopify/toxiproxy:")
    for edge in topo.edges:
        proxy = proxies[edge.proxy_name]
        listen_port = proxy["listen"].rsplit(":", 1)[1]
        env = services[edge.source]["environment"]
        # The caller's variable names the proxy, never the target directly.
        assert f"toxiproxy:{listen_port}" in env[edge.env_var]
        upstream_host = proxy["upstream"].split(":")[0]
        assert upstream_host == edge.target
        assert upstream_host in services
    for name, service in topo.services.items():
        entry = services[name]
        assert service.app in entry["command"]
        assert str(service.port) in entry["command"]
        assert ("ports" in entry) == service.public


def test_generated_database_urls_use_psycopg_and_one_database_per_service():
    doc = compose.compose_document(load_topology())
    urls = {
        name: svc["environment"]["SVC_DATABASE_URL"]
        for name, svc in doc["services"].items()
        if "SVC_DATABASE_URL" in svc.get("environment", {})
    }
    assert len(set(urls.values())) == len(urls) == 5
    assert all(u.startswith("postgresql+psycopg://postgres@toxiproxy:") for u in urls.values())
    assert urls["payments"].endswith("/faultline_payments")


def test_the_entry_point_runs_the_demo_key_unless_given_its_own():
    topo = load_topology()
    services = compose.compose_document(topo)["services"]
    for name, service in topo.services.items():
        env = services[name]["environment"]
        if service.public:
            # `SVC_JWT_SECRET=... docker compose up` signs with that key instead.
            assert env["SVC_DEMO"] == "true"
            assert env["SVC_JWT_SECRET"] == "${SVC_JWT_SECRET:-}"
        else:
            assert "SVC_DEMO" not in env and "SVC_JWT_SECRET" not in env


def test_generation_follows_another_topology(tmp_path):
    raw = yaml.safe_load((ROOT / "system_under_test" / "topology.yaml").read_text())
    raw["edges"] = [e for e in raw["edges"] if e["to"] != "rabbitmq"]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(raw))
    files = compose.render(load_topology(path))
    proxies = json.loads(files["toxiproxy.json"])
    assert not any(p["name"].endswith("->rabbitmq") for p in proxies)
    assert "SVC_AMQP_URL" not in files["docker-compose.yml"]


# -- checked by the tools that read it -------------------------------------------------------------

CHECK_JSONSCHEMA = Path(sys.executable).with_name("check-jsonschema")


def check_compose_spec(path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CHECK_JSONSCHEMA), "--builtin-schema", "vendor.compose-spec", str(path)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_compose_file_validates_against_the_compose_specification():
    result = check_compose_spec(ROOT / "docker-compose.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_compose_check_rejects_a_broken_file(tmp_path):
    doc = compose.compose_document(load_topology())
    doc["services"]["gateway"]["depends_on"]["toxiproxy"]["condition"] = "service_ready"
    doc["services"]["users"]["healthcheck"]["intervall"] = "3s"
    broken = tmp_path / "docker-compose.yml"
    broken.write_text(yaml.safe_dump(doc))
    result = check_compose_spec(broken)
    assert result.returncode == 1
    assert "service_ready" in result.stdout and "intervall" in result.stdout


def test_toxiproxy_is_checked_with_its_own_client_since_its_image_has_no_shell():
    toxiproxy = compose.compose_document(load_topology())["services"]["toxiproxy"]
    assert toxiproxy["image"] == compose.TOXIPROXY_IMAGE
    # Exec form: CMD-SHELL would need /bin/sh, which the image (FROM scratch) lacks.
    assert toxiproxy["healthcheck"]["test"] == ["CMD", "/toxiproxy-cli", "list"]


def test_each_service_starts_after_toxiproxy_and_the_servers_it_reaches_are_healthy():
    topo = load_topology()
    services = compose.compose_document(topo)["services"]
    for name, service in topo.services.items():
        entry = services[name]
        reached = {e.target for e in topo.edges_from(name) if e.kind != "http"}
        assert entry["depends_on"] == {
            s: {"condition": "service_healthy"} for s in {"toxiproxy", *reached}
        }
        check = entry["healthcheck"]
        assert check["test"][0] == "CMD"
        assert f"http://127.0.0.1:{service.port}/ready" in check["test"][-1]
        assert "start_period" in check
    for server in ("postgres", "rabbitmq", "toxiproxy"):
        assert "healthcheck" in services[server]


def test_the_ready_check_command_fails_on_a_503_and_passes_on_a_200(tmp_path):
    # The healthcheck runs `python -c …` inside the image; run the same code against a server
    # answering 503, then 200, to show it tells them apart.
    from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
    from threading import Thread

    status = {"code": 503}

    class Ready(BaseHTTPRequestHandler):
        def do_GET(self):
            self.send_response(status["code"] if self.path == "/ready" else 404)
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Ready)
    Thread(target=server.serve_forever, daemon=True).start()
    try:
        command = compose.ready_check(server.server_address[1])
        assert command[:3] == ["CMD", "python", "-c"]
        run = [sys.executable, "-c", command[3]]
        assert subprocess.run(run, capture_output=True, timeout=30).returncode != 0
        status["code"] = 200
        assert subprocess.run(run, capture_output=True, timeout=30).returncode == 0
    finally:
        server.shutdown()
