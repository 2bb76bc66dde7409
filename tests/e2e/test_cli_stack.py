"""`faultline up --detach`, `status --json` and `down` as a user runs them, in subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import httpx
import psycopg
import pytest

from harness import infra, processes
from harness.topology import load_topology

pytestmark = pytest.mark.e2e


def faultline(*args: str, home: Path, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "FAULTLINE_HOME": str(home)}
    env.pop("TOXIPROXY_URL", None)
    return subprocess.run(
        [sys.executable, "-m", "faultline", *args],
        cwd=home.parent,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def test_up_detach_status_down(tmp_path):
    home = tmp_path / ".faultline"
    topo = load_topology()
    up = faultline("up", "--detach", "--ports", "auto", home=home)
    try:
        assert up.returncode == 0, up.stderr + up.stdout
        assert "gateway: http://127.0.0.1:" in up.stdout
        state = json.loads((home / "stack.json").read_text())

        # The services outlive the command that started them.
        status = faultline("status", "--json", home=home)
        assert status.returncode == 0, status.stderr
        report = json.loads(status.stdout)
        assert set(report) == {"toxiproxy_url", "services", "proxies"}
        assert report["toxiproxy_url"] == state["toxiproxy_url"]
        assert [s["name"] for s in report["services"]] == list(topo.services)
        for s in report["services"]:
            assert set(s) == {"name", "url", "openapi_url", "ready"}
            assert s["ready"] is True
            assert s["openapi_url"] == s["url"] + "/openapi.json"
        assert {p["name"] for p in report["proxies"]} == {e.proxy_name for e in topo.edges}
        assert httpx.get(state["gateway_url"] + "/ready").status_code == 200

        text = faultline("status", home=home)
        assert text.returncode == 0
        assert "bookings->payments" in text.stdout and "closed" in text.stdout

        again = faultline("up", "--detach", "--ports", "auto", home=home)
        assert again.returncode == 2
        assert "already running" in again.stderr
    finally:
        down = faultline("down", home=home)
    assert down.returncode == 0, down.stderr
    assert "stopped run" in down.stdout
    assert not (home / "stack.json").exists()
    pids = [s["pid"] for s in state["services"].values()] + [state["toxiproxy_pid"]]
    assert not [p for p in pids if processes.alive(p)]
    url = infra.libpq_url(state["postgres_url"])
    with psycopg.connect(url) as conn:
        names = [r[0] for r in conn.execute("SELECT datname FROM pg_database").fetchall()]
    assert not set(state["databases"]) & set(names)
    assert len(state["databases"]) == 5
    assert faultline("status", home=home).returncode == 1


def test_up_in_the_foreground_tears_down_on_ctrl_c(tmp_path):
    home = tmp_path / ".faultline"
    env = {k: v for k, v in os.environ.items() if k != "TOXIPROXY_URL"}
    env["FAULTLINE_HOME"] = str(home)
    proc = subprocess.Popen(
        [sys.executable, "-m", "faultline", "up", "--ports", "auto"],
        cwd=tmp_path,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert proc.stdout is not None
        lines = []
        for line in proc.stdout:  # blocks until the stack is ready (or the command fails)
            lines.append(line)
            if "press Ctrl-C" in line:
                break
        assert any("gateway: http://127.0.0.1:" in line for line in lines), lines
        state = json.loads((home / "stack.json").read_text())
        assert httpx.get(state["gateway_url"] + "/ready").status_code == 200
        proc.send_signal(signal.SIGINT)
        rest, errors = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
            faultline("down", home=home)
    assert proc.returncode == 0, errors
    assert "stopped" in rest
    assert "exited" not in errors
    assert not (home / "stack.json").exists()
    pids = [s["pid"] for s in state["services"].values()] + [state["toxiproxy_pid"]]
    assert not [p for p in pids if processes.alive(p)]
