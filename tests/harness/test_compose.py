"""docker-compose.yml and toxiproxy.json: in sync with the topology, and wired through proxies."""

from __future__ import annotations

import json
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


def test_generation_follows_another_topology(tmp_path):
    raw = yaml.safe_load((ROOT / "system_under_test" / "topology.yaml").read_text())
    raw["edges"] = [e for e in raw["edges"] if e["to"] != "rabbitmq"]
    path = tmp_path / "t.yaml"
    path.write_text(yaml.safe_dump(raw))
    files = compose.render(load_topology(path))
    proxies = json.loads(files["toxiproxy.json"])
    assert not any(p["name"].endswith("->rabbitmq") for p in proxies)
    assert "SVC_AMQP_URL" not in files["docker-compose.yml"]
