"""The stack supervisor against the real suite, the real servers and the embedded proxy server."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest
import yaml

from harness import infra, processes, urls
from harness.stack import Stack, StackError
from harness.suite_client import SuiteClient, SuiteError
from harness.topology import DEFAULT_TOPOLOGY, load_topology

pytestmark = pytest.mark.e2e


def test_every_edge_goes_through_its_proxy(faultline_stack: Stack):
    topo = load_topology()
    listed = httpx.get(f"{faultline_stack.toxiproxy_url}/proxies").json()
    assert set(listed) == {e.proxy_name for e in topo.edges}
    services = faultline_stack.state.services
    for edge in topo.edges:
        proxy = listed[edge.proxy_name]
        env = services[edge.source].env
        port = proxy["listen"].rsplit(":", 1)[1]
        assert f"127.0.0.1:{port}" in env[edge.env_var], (edge, env[edge.env_var])
        if edge.kind == "http":
            assert proxy["upstream"].endswith(
                f":{faultline_stack.state.services[edge.target].port}"
            )
    # A service's database URL names the run's own database, never a shared one.
    db_url = faultline_stack.state.services["bookings"].env["SVC_DATABASE_URL"]
    assert db_url.endswith(f"/fl_{faultline_stack.run_id}_bookings")
    assert faultline_stack.state.services["users"].env["SVC_NAMESPACE"] == faultline_stack.namespace


def test_direct_database_url_reaches_the_service_database(faultline_stack: Stack):
    url = urls.libpq_url(faultline_stack.database_url("payments"))
    assert f"/fl_{faultline_stack.run_id}_payments" in url
    with psycopg.connect(url) as conn:
        tables = {r[0] for r in conn.execute("SELECT tablename FROM pg_tables").fetchall()}
    assert "alembic_version" in tables


def test_disabling_a_proxy_cuts_the_edge(faultline_stack: Stack, clean_toxics):
    api = faultline_stack.toxiproxy_url
    resp = httpx.post(f"{api}/proxies/gateway->users", json={"enabled": False})
    assert resp.status_code == 200
    unknown = "00000000-0000-0000-0000-000000000000"
    with SuiteClient.for_stack(faultline_stack, timeout=20) as client:
        client.login()
        with pytest.raises(SuiteError) as cut:
            client.get_user(unknown)
        assert cut.value.status == 503
        assert cut.value.answer.headers["content-type"].startswith("application/problem+json")
        clean_toxics()
        assert httpx.get(f"{api}/proxies/gateway->users").json()["enabled"] is True
        # The edge works again (and this success resets the breaker's failure count for others).
        with pytest.raises(SuiteError) as healed:
            client.get_user(unknown)
        assert healed.value.status == 404


def test_pause_resume_and_kill_restart_a_service(faultline_stack: Stack):
    stack = faultline_stack
    stack.pause("notifications")
    try:
        with pytest.raises(httpx.TimeoutException):
            httpx.get(f"{stack.url('notifications')}/health", timeout=0.5)
    finally:
        stack.resume("notifications")
    assert httpx.get(f"{stack.url('notifications')}/health", timeout=5).status_code == 200

    old = stack.pid("notifications")
    stack.kill("notifications")
    assert not processes.alive(old)
    assert not stack.is_ready("notifications")
    t0 = time.monotonic()
    stack.restart("notifications")
    assert stack.pid("notifications") != old
    assert stack.is_ready("notifications")
    assert time.monotonic() - t0 < 30
    assert stack.url("notifications").endswith(f":{stack.state.services['notifications'].port}")


def _mini_topology(tmp_path: Path, app: str) -> Path:
    """The booking suite's file with one extra service, started from `app`."""
    raw = yaml.safe_load(DEFAULT_TOPOLOGY.read_text())
    raw["services"] = {"lonely": {"app": app, "port": 18999, "public": True}}
    raw["edges"], raw["events"] = [], []
    path = tmp_path / "mini.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_service_that_cannot_start_fails_fast_with_its_log_and_leaves_nothing(
    tmp_path, monkeypatch
):
    monkeypatch.setenv("FAULTLINE_HOME", str(tmp_path / "home"))
    path = _mini_topology(tmp_path, "no_such_module_anywhere:app")
    state_file = tmp_path / "stack.json"
    stack = Stack(path, ports="auto", state_file=state_file, ready_timeout=30)
    t0 = time.monotonic()
    with pytest.raises(StackError) as info:
        stack.start()
    assert time.monotonic() - t0 < 15
    assert "service lonely exited during start-up" in str(info.value)
    assert "no_such_module_anywhere" in info.value.details
    assert not state_file.exists()
    assert stack.state is None


def test_service_env_overrides_reach_the_process(faultline_stack_factory):
    settings = {
        "env": {"SVC_RETRY_ATTEMPTS": "1"},
        "service_env": {"bookings": {"SVC_COMPENSATION": "false"}},
        "seed": 7,
    }
    with faultline_stack_factory.single_use(**settings) as stack:
        assert stack is faultline_stack_factory(**settings)  # one stack per setting per session
        _check_service_env(stack)
    assert not stack.running()  # stopped at the block's end: its connections are given back


def _check_service_env(stack: Stack) -> None:
    assert "--seed 7" in processes.cmdline(stack.state.toxiproxy_pid)

    def environ(service: str) -> dict[str, str]:
        return psutil.Process(stack.pid(service)).environ()

    assert environ("bookings")["SVC_COMPENSATION"] == "false"
    assert "SVC_COMPENSATION" not in environ("payments")
    assert environ("payments")["SVC_RETRY_ATTEMPTS"] == "1"
    assert stack.is_ready("gateway")


def test_toxiproxy_fixture_is_toxiproxy_python_on_the_stacks_server(
    faultline_stack: Stack, toxiproxy
):
    from toxiproxy import Toxiproxy

    assert isinstance(toxiproxy, Toxiproxy)
    proxy = toxiproxy.get_proxy("gateway->facilities")
    assert set(toxiproxy.proxies()) == set(faultline_stack.state.proxies)
    proxy.add_toxic(type="latency", attributes={"latency": 300})
    t0 = time.monotonic()
    assert httpx.get(f"http://{proxy.listen}/health", timeout=5).status_code == 200
    assert time.monotonic() - t0 >= 0.3


def test_toxiproxy_client_fixture_knows_the_embedded_server(toxiproxy_client):
    assert toxiproxy_client.is_embedded()
    toxiproxy_client.add_toxic("bookings->payments", "http_error", {"status": 503})


def test_reset_removes_every_toxic_and_reenables_proxies(faultline_stack: Stack):
    from harness.toxiproxy import ToxiproxyClient

    api = faultline_stack.toxiproxy_url
    httpx.post(
        f"{api}/proxies/bookings->payments/toxics", json={"type": "latency", "attributes": {}}
    ).raise_for_status()
    httpx.post(f"{api}/proxies/users->postgres", json={"enabled": False}).raise_for_status()
    with ToxiproxyClient(api) as client:
        client.reset()
    listed = httpx.get(f"{api}/proxies").json()
    assert all(p["toxics"] == [] and p["enabled"] for p in listed.values())


def _users_only_topology(tmp_path: Path) -> Path:
    """Another suite: the users service alone, with its database and broker edges."""
    raw = yaml.safe_load(DEFAULT_TOPOLOGY.read_text())
    raw["services"] = {"users": {**raw["services"]["users"], "public": True}}
    raw["edges"] = [e for e in raw["edges"] if e["from"] == "users"]
    raw["events"] = [{"name": "user.created", "producer": "users", "consumers": []}]
    path = tmp_path / "users-only.yaml"
    path.write_text(yaml.safe_dump(raw))
    return path


def test_a_toxiproxy_named_by_url_is_used_and_only_our_proxies_removed(tmp_path, monkeypatch):
    from harness.embedded_toxiproxy import start_embedded
    from harness.toxiproxy import ToxiproxyClient, answers

    monkeypatch.setenv("FAULTLINE_HOME", str(tmp_path / "home"))
    server, url = start_embedded(processes.free_port(), tmp_path / "tp.log")
    client = ToxiproxyClient(url)
    try:
        foreign = {"name": "someone-else", "listen": "127.0.0.1:0", "upstream": "127.0.0.1:9"}
        client.populate([foreign])
        monkeypatch.setenv("TOXIPROXY_URL", url)
        stack = Stack(_users_only_topology(tmp_path), ports="auto", state_file=tmp_path / "s.json")
        with stack:
            assert stack.toxiproxy_url == url and not stack.toxiproxy_embedded
            assert set(client.proxies()) == {
                "someone-else",
                "users->postgres",
                "users->rabbitmq",
            }
            resp = httpx.post(
                f"{stack.url('users')}/users", json={"email": "a@example.com", "name": "A"}
            )
            assert resp.status_code == 201, resp.text
            database = stack.database_name("users")
        assert set(client.proxies()) == {"someone-else"}
        assert answers(url)
        assert (
            infra.existing_databases(urls.libpq_url(stack.topology.postgres.url()), database) == []
        )
    finally:
        client.close()
        processes.terminate([server.pid])
        server.wait(5)


def test_a_service_never_ready_fails_at_the_deadline_and_stops_everything(tmp_path, monkeypatch):
    monkeypatch.setenv("FAULTLINE_HOME", str(tmp_path / "home"))
    started = []
    spawn = processes.spawn

    def recording_spawn(*args, **kwargs):
        started.append(spawn(*args, **kwargs))
        return started[-1]

    monkeypatch.setattr(processes, "spawn", recording_spawn)
    dead_db = f"postgresql+psycopg://postgres@127.0.0.1:{processes.free_port()}/nowhere"
    stack = Stack(
        _users_only_topology(tmp_path),
        ports="auto",
        state_file=tmp_path / "s.json",
        service_env={"users": {"SVC_DATABASE_URL": dead_db}},
        ready_timeout=3,
        stop_grace=1,
    )
    with pytest.raises(StackError) as info:
        stack.start()
    # The log may still be empty under load, so only the pointer to it is certain.
    assert "users not ready after 3s; last lines of" in str(info.value)
    assert "logs/users.log" in str(info.value)
    assert not (tmp_path / "s.json").exists()
    assert len(started) == 2  # the proxy server and the service
    assert all(p.poll() is not None for p in started)
