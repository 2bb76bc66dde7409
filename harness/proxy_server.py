"""The Toxiproxy server a stack routes every edge through, driven over its HTTP API.

The stack only needs three calls (populate, list, delete), and speaking the documented
Toxiproxy 2.x API directly keeps it working against a real server and the embedded one alike.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

from harness import processes
from harness.errors import UserError

START_TIMEOUT_S = 15.0


def answers(url: str, timeout: float = 1.0) -> bool:
    try:
        return httpx.get(f"{url}/version", timeout=timeout).status_code == 200
    except httpx.HTTPError:
        return False


def check_real(url: str, env_name: str) -> None:
    if not answers(url, timeout=3.0):
        raise UserError(
            f"Toxiproxy is not reachable at {url}; unset {env_name} to use the embedded "
            "proxy server, or start Toxiproxy there (`docker compose up -d toxiproxy`)"
        )


def start_embedded(
    port: int, log: Path, seed: int | None = None
) -> tuple[subprocess.Popen[bytes], str]:
    """Run `faultline toxiproxy` as a child process; return it and its API URL once it answers."""
    argv = [sys.executable, "-m", "harness.cli", "toxiproxy", "--host", "127.0.0.1"]
    argv += ["--port", str(port)]
    if seed is not None:
        argv += ["--seed", str(seed)]
    proc = processes.spawn(argv, {**os.environ, "PYTHONUNBUFFERED": "1"}, log)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise UserError(
                f"the embedded proxy server exited with code {proc.returncode}:\n"
                + processes.tail(log, 10)
            )
        if answers(url, timeout=0.5):
            return proc, url
        time.sleep(0.05)
    processes.terminate([proc.pid])
    proc.poll()
    raise UserError(f"the embedded proxy server did not answer on {url} within {START_TIMEOUT_S}s")


def _check(resp: httpx.Response, what: str) -> httpx.Response:
    if resp.status_code >= 400:
        raise UserError(f"Toxiproxy refused to {what}: {resp.status_code} {resp.text.strip()}")
    return resp


def populate(url: str, proxies: list[Mapping[str, Any]]) -> dict[str, dict[str, Any]]:
    """Create (or replace) proxies; return every proxy by name with its bound listen address."""
    with httpx.Client(base_url=url, timeout=10.0) as client:
        _check(client.post("/populate", json=list(proxies)), "create the proxies")
        return list_proxies_with(client)


def list_proxies(url: str) -> dict[str, dict[str, Any]]:
    with httpx.Client(base_url=url, timeout=5.0) as client:
        return list_proxies_with(client)


def list_proxies_with(client: httpx.Client) -> dict[str, dict[str, Any]]:
    body = _check(client.get("/proxies"), "list the proxies").json()
    return dict(body)


def delete_proxies(url: str, names: list[str]) -> None:
    with httpx.Client(base_url=url, timeout=5.0) as client:
        for name in names:
            resp = client.delete(f"/proxies/{quote(name, safe='')}")
            if resp.status_code not in (204, 404):
                _check(resp, f"delete proxy {name}")
