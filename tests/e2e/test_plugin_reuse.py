"""`pytest --faultline-reuse`: a test session against a stack that is already up."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap

import httpx
import pytest

pytestmark = pytest.mark.e2e

USER_TEST = textwrap.dedent(
    """
    def test_through_the_fixtures(faultline_stack, gateway_client, toxiproxy):
        assert gateway_client.get("/api/facilities").status_code == 200
        assert "gateway->bookings" in toxiproxy.proxies()
        proxy = toxiproxy.get_proxy("gateway->bookings")
        proxy.add_toxic(type="latency", attributes={"latency": 1})
    """
)


def test_reuse_runs_against_the_running_stack_and_leaves_it_up(tmp_path, faultline_stack):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    env = {
        **os.environ,
        "FAULTLINE_STACK_URL": faultline_stack.gateway_url,
        "TOXIPROXY_URL": faultline_stack.toxiproxy_url,
        "FAULTLINE_HOME": str(tmp_path / "home"),
    }
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--faultline-reuse"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed" in result.stdout
    # The stack is still up and the toxic that test added was removed after it.
    assert httpx.get(f"{faultline_stack.gateway_url}/ready").status_code == 200
    toxics = httpx.get(f"{faultline_stack.toxiproxy_url}/proxies/gateway->bookings/toxics")
    assert toxics.json() == []
    assert not (tmp_path / "home").exists()


def test_reuse_without_a_stack_says_how_to_get_one(tmp_path):
    (tmp_path / "test_user.py").write_text(USER_TEST)
    env = {k: v for k, v in os.environ.items() if k not in ("FAULTLINE_STACK_URL",)}
    env["FAULTLINE_HOME"] = str(tmp_path / "home")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--faultline-reuse"],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 1
    assert "faultline up --detach" in result.stdout
