"""The `faultline` command's error paths: one readable line, the right exit code, no traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from harness.processes import free_port

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def faultline(*args: str, cwd: Path, **env: str) -> subprocess.CompletedProcess[str]:
    full_env = {k: v for k, v in os.environ.items() if k != "TOXIPROXY_URL"}
    full_env.update(FAULTLINE_HOME=str(cwd / ".faultline"), **env)
    return subprocess.run(
        [sys.executable, "-m", "faultline", *args],
        cwd=cwd,
        env=full_env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def one_line_error(result: subprocess.CompletedProcess[str]) -> str:
    assert "Traceback" not in result.stderr + result.stdout
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("faultline: ")
    return lines[0]


def test_unreachable_postgres_is_one_line_naming_the_variable_and_exit_2(tmp_path):
    url = f"postgresql://postgres@127.0.0.1:{free_port()}/postgres"
    result = faultline("up", "--detach", cwd=tmp_path, FAULTLINE_POSTGRES_URL=url)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "PostgreSQL" in line and url in line
    assert "FAULTLINE_POSTGRES_URL" in line and "docker compose" in line
    assert not (tmp_path / ".faultline" / "stack.json").exists()


def test_unreachable_rabbitmq_is_one_line_naming_the_variable_and_exit_2(tmp_path):
    url = f"amqp://guest:guest@127.0.0.1:{free_port()}/"
    result = faultline("demo", cwd=tmp_path, FAULTLINE_RABBITMQ_URL=url)
    assert result.returncode == 2
    line = one_line_error(result)
    assert "RabbitMQ" in line and url in line and "FAULTLINE_RABBITMQ_URL" in line


def test_unreachable_real_toxiproxy_is_a_user_error(tmp_path):
    url = f"http://127.0.0.1:{free_port()}"
    result = faultline("up", "--ports", "auto", cwd=tmp_path, TOXIPROXY_URL=url)
    assert result.returncode == 2
    line = one_line_error(result)
    assert url in line and "TOXIPROXY_URL" in line


def test_bad_flag_and_bad_choice_exit_2(tmp_path):
    result = faultline("up", "--no-such-flag", cwd=tmp_path)
    assert result.returncode == 2
    assert "--no-such-flag" in one_line_error(result)
    result = faultline("up", "--ports", "sometimes", cwd=tmp_path)
    assert result.returncode == 2
    assert "sometimes" in one_line_error(result)
    result = faultline("up", "--env", "SVC_BREAKERS", cwd=tmp_path)
    assert result.returncode == 2
    assert "NAME=VALUE" in one_line_error(result)


def test_missing_topology_file_exit_2(tmp_path):
    result = faultline("up", "--topology", str(tmp_path / "nope.yaml"), cwd=tmp_path)
    assert result.returncode == 2
    assert "cannot read topology file" in one_line_error(result)


def test_bad_topology_file_is_one_line_naming_file_field_and_line_exit_2(tmp_path):
    text = (ROOT / "system_under_test" / "topology.yaml").read_text()
    bad = tmp_path / "bad.yaml"
    bad.write_text(text.replace("kind: rabbitmq}", "kind: amqp}", 1))
    line = next(n for n, row in enumerate(bad.read_text().splitlines(), 1) if "kind: amqp}" in row)
    result = faultline("up", "--detach", "--topology", str(bad), cwd=tmp_path)
    assert result.returncode == 2
    error = one_line_error(result)
    assert error.startswith(f"faultline: topology file {bad}: edges[")
    assert "].kind: Input should be 'http', 'postgres' or 'rabbitmq', got 'amqp'" in error
    assert error.endswith(f"(line {line})")
    assert not (tmp_path / ".faultline" / "stack.json").exists()


def test_status_and_down_with_nothing_running(tmp_path):
    result = faultline("down", cwd=tmp_path)
    assert result.returncode == 0
    assert "no stack is running" in result.stdout
    result = faultline("status", cwd=tmp_path)
    assert result.returncode == 1
    assert "no stack is running" in result.stdout
    result = faultline("status", "--json", cwd=tmp_path)
    assert result.returncode == 1
    assert json.loads(result.stdout) == {"toxiproxy_url": None, "services": [], "proxies": []}


def test_corrupt_state_file_is_one_line(tmp_path):
    (tmp_path / ".faultline").mkdir()
    (tmp_path / ".faultline" / "stack.json").write_text("{")
    result = faultline("down", cwd=tmp_path)
    assert result.returncode == 2
    assert "unreadable" in one_line_error(result)


def test_compose_check_and_generate(tmp_path):
    result = faultline("compose", "--check", "--output-dir", str(ROOT), cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    result = faultline("compose", "--check", "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 1
    assert "docker-compose.yml" in result.stderr
    result = faultline("compose", "--output-dir", str(tmp_path), cwd=tmp_path)
    assert result.returncode == 0
    assert (tmp_path / "docker-compose.yml").read_text() == (
        ROOT / "docker-compose.yml"
    ).read_text()
    assert (
        faultline("compose", "--check", "--output-dir", str(tmp_path), cwd=tmp_path).returncode == 0
    )


def test_busy_service_port_is_one_line_and_exit_2(tmp_path):
    import socket

    import yaml

    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        raw = yaml.safe_load((ROOT / "system_under_test" / "topology.yaml").read_text())
        # The other services on ports free now, not their defaults, which a suite started
        # elsewhere on this machine may hold.
        for name, service in raw["services"].items():
            service["port"] = port if name == "gateway" else free_port()
        path = tmp_path / "busy.yaml"
        path.write_text(yaml.safe_dump(raw))
        result = faultline("up", "--detach", "--topology", str(path), cwd=tmp_path)
    assert result.returncode == 2
    line = one_line_error(result)
    assert f"port {port} of service gateway is in use" in line and "--ports auto" in line
    assert not (tmp_path / ".faultline" / "stack.json").exists()


def test_status_of_a_stack_whose_processes_are_gone_points_to_down(tmp_path):
    home = tmp_path / ".faultline"
    home.mkdir()
    state = {
        "run_id": "deadbeef",
        "topology": str(ROOT / "system_under_test" / "topology.yaml"),
        "namespace": "fl_deadbeef",
        "postgres_url": "postgresql://postgres@127.0.0.1:5432/postgres",
        "rabbitmq_url": "amqp://guest:guest@127.0.0.1:5672/",
        "toxiproxy_url": f"http://127.0.0.1:{free_port()}",
        "toxiproxy_embedded": True,
        "toxiproxy_pid": None,
        "gateway_url": "http://127.0.0.1:1",
        "services": {},
        "proxies": {},
        "databases": ["fl_deadbeef_users"],
        "exchanges": [],
        "queues": [],
        "run_dir": str(home / "deadbeef"),
        "supervisor_pid": 1,
    }
    (home / "stack.json").write_text(json.dumps(state))
    result = faultline("status", cwd=tmp_path)
    assert result.returncode == 1
    assert "run deadbeef is recorded" in result.stdout
    result = faultline("down", cwd=tmp_path)
    assert result.returncode == 0, result.stderr
    assert not (home / "stack.json").exists()
