"""`faultline up --backend testcontainers`: the servers in containers, the services local.

The end-to-end test needs a Docker engine and is skipped, with the reason, where none answers.
What the backend decides without Docker (the containers it asks for, the variables it gives the
stack, its one-line refusal, its bookkeeping for `faultline down`) is tested everywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
import yaml

from harness import compose, containers, urls
from harness.booking_flow import BookingFlow
from harness.errors import UserError
from harness.stack import Stack
from harness.topology import load_topology

ROOT = Path(__file__).resolve().parents[2]
NO_DOCKER = containers.docker_unreachable()


# -- what it asks Docker for, checked without Docker ----------------------------------------------


@pytest.mark.unit
def test_the_plan_runs_the_real_toxiproxy_on_the_host_network_and_the_compose_images():
    plan = containers.plan(load_topology(), toxiproxy_port=28474)
    specs = plan.specs
    assert specs["toxiproxy"].image == compose.TOXIPROXY_IMAGE
    assert specs["postgres"].image == compose.POSTGRES_IMAGE
    assert specs["rabbitmq"].image == compose.RABBITMQ_IMAGE
    # The stack creates proxies on 127.0.0.1 with upstreams on 127.0.0.1: only the host's
    # network makes both reachable, and the API must not take Toxiproxy's default port.
    assert specs["toxiproxy"].host_network and not specs["toxiproxy"].ports
    assert specs["toxiproxy"].command == ("-host=127.0.0.1", "-port=28474")
    assert specs["postgres"].ports == (5432,) and specs["rabbitmq"].ports == (5672,)
    assert not specs["postgres"].host_network and not specs["rabbitmq"].host_network
    # Ready means accepting TCP connections: the image's first-start server listens only on
    # its socket, then restarts.
    ready = specs["postgres"].ready_command
    assert ready[0] == "pg_isready" and ready[ready.index("-h") + 1] == "127.0.0.1"
    assert specs["rabbitmq"].ready_log == "Server startup complete"


@pytest.mark.unit
def test_each_run_gets_fresh_passwords_for_servers_published_on_the_host():
    first, second = (containers.plan(load_topology(), 1) for _ in range(2))
    assert first.postgres_password != second.postgres_password
    assert first.rabbitmq_password != first.postgres_password
    assert first.specs["postgres"].env["POSTGRES_PASSWORD"] == first.postgres_password
    assert first.specs["rabbitmq"].env["RABBITMQ_DEFAULT_PASS"] == first.rabbitmq_password


@pytest.mark.unit
def test_the_stack_is_pointed_at_the_containers_by_the_topologys_own_variables(tmp_path):
    raw = yaml.safe_load((ROOT / "system_under_test" / "topology.yaml").read_text())
    raw["infrastructure"]["postgres"]["env"] = "SUITE_PG"
    raw["toxiproxy"]["env"] = "SUITE_TOXIPROXY"
    path = tmp_path / "topology.yaml"
    path.write_text(yaml.safe_dump(raw))
    topo = load_topology(path)
    plan = containers.plan(topo, 28474, token="pw")
    env = containers.environment(
        topo, plan, {"postgres": ("localhost", 49153), "rabbitmq": ("localhost", 49154)}
    )
    assert set(env) == {"SUITE_PG", "FAULTLINE_RABBITMQ_URL", "SUITE_TOXIPROXY"}
    assert env["SUITE_PG"] == "postgresql://postgres:pw@localhost:49153/postgres"
    assert env["FAULTLINE_RABBITMQ_URL"] == "amqp://faultline:pw@localhost:49154/"
    assert env["SUITE_TOXIPROXY"] == "http://127.0.0.1:28474"
    # The stack reads them the way it reads any server URL.
    assert urls.address(env["SUITE_PG"], 5432) == ("localhost", 49153)
    assert topo.postgres.url(env) == env["SUITE_PG"]


@pytest.mark.unit
def test_the_local_backend_starts_nothing_and_an_unknown_one_is_refused():
    before = dict(os.environ)
    with containers.backing_servers("local", load_topology()) as started:
        assert started is None
    assert dict(os.environ) == before
    with (
        pytest.raises(UserError, match="unknown backend"),
        containers.backing_servers("kubernetes", load_topology()),
    ):
        pass


@pytest.mark.unit
def test_down_removes_nothing_without_a_record_and_refuses_an_unreadable_one(tmp_path, monkeypatch):
    monkeypatch.setenv("FAULTLINE_HOME", str(tmp_path))
    assert containers.remove_recorded() == 0
    (tmp_path / containers.RECORD_FILE).write_text('{"containers": "abc"}')
    with pytest.raises(UserError, match="docker rm -f"):
        containers.remove_recorded()


# -- without Docker: one line, exit 2, nothing changed ---------------------------------------------


@pytest.mark.integration
@pytest.mark.skipif(NO_DOCKER is None, reason="a Docker engine answers here")
def test_without_docker_up_says_so_in_one_line_and_exits_2(tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith(("FAULTLINE_", "TOXIPROXY"))}
    result = subprocess.run(
        [sys.executable, "-m", "faultline", "up", "--backend", "testcontainers"],
        cwd=tmp_path,
        env={**env, "FAULTLINE_HOME": str(tmp_path / ".faultline")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    (line,) = result.stderr.strip().splitlines()
    assert line.startswith("faultline: --backend testcontainers needs a Docker engine")
    assert not (tmp_path / ".faultline" / "stack.json").exists()


@pytest.mark.integration
@pytest.mark.skipif(NO_DOCKER is None, reason="a Docker engine answers here")
def test_without_docker_the_variables_are_left_as_they_were(monkeypatch):
    topo = load_topology()
    monkeypatch.setenv(topo.postgres.env, "postgresql://postgres@127.0.0.1:5432/postgres")
    before = dict(os.environ)
    with (
        pytest.raises(UserError, match="Docker engine"),
        containers.backing_servers("testcontainers", topo),
    ):
        pass
    assert dict(os.environ) == before


# -- with Docker: the whole suite on containerised servers ----------------------------------------


@pytest.mark.integration
def test_a_booking_runs_end_to_end_on_servers_in_containers_behind_the_real_toxiproxy(
    tmp_path, monkeypatch
):
    if NO_DOCKER is not None:
        pytest.skip(f"no Docker engine is reachable ({NO_DOCKER})")
    monkeypatch.setenv("FAULTLINE_HOME", str(tmp_path))
    topo = load_topology()
    with containers.backing_servers("testcontainers", topo) as started:
        assert started is not None
        ids = started.ids()
        toxiproxy_url = os.environ[topo.toxiproxy_env]
        with Stack(topo, ports="auto", state_file=tmp_path / "stack.json") as stack:
            assert not stack.toxiproxy_embedded and stack.toxiproxy_url == toxiproxy_url
            proxies = httpx.get(f"{toxiproxy_url}/proxies", timeout=5).json()
            assert set(proxies) == {e.proxy_name for e in topo.edges}
            flow = BookingFlow(stack.gateway_url, stack.url("notifications"))
            try:
                steps = list(flow.run())
            finally:
                flow.close()
            assert steps and all(s.ok for s in steps), [s for s in steps if not s.ok]
    client = containers._docker(timeout=10)
    try:
        left = [c.id for c in client.containers.list(all=True) if c.id in ids]
    finally:
        client.close()
    assert len(ids) == 3 and left == []
