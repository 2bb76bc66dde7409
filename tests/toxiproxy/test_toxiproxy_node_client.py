"""toxiproxy-node-client, an npm client written by others, drives the embedded server.

The test installs the package from the committed lock file (`npm ci` in tests/toxiproxy/node,
whose node_modules git ignores) and runs node/client.test.js with Node's own test runner.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

NODE_DIR = Path(__file__).parent / "node"
PACKAGE = "toxiproxy-node-client"


def _tool(name: str) -> str:
    path = shutil.which(name)
    assert path, f"{name} is needed to run {PACKAGE}'s tests (apt-get install nodejs npm)"
    return path


@pytest.fixture(scope="module")
def node_client() -> str:
    """Node's path, once the locked version of the package is installed."""
    node, npm = _tool("node"), _tool("npm")
    locked = json.loads((NODE_DIR / "package-lock.json").read_text())
    wanted = locked["packages"][f"node_modules/{PACKAGE}"]["version"]
    installed = NODE_DIR / "node_modules" / PACKAGE / "package.json"
    if not installed.exists() or json.loads(installed.read_text())["version"] != wanted:
        subprocess.run(
            [npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"],
            cwd=NODE_DIR,
            check=True,
            timeout=600,
        )
    return node


def test_the_npm_client_passes_every_check_against_the_embedded_server(server, node_client):
    done = subprocess.run(
        [node_client, "--test", "--test-reporter=tap", "client.test.js"],
        cwd=NODE_DIR,
        env={**os.environ, "TOXIPROXY_URL": server.url},
        capture_output=True,
        text=True,
        timeout=300,
    )
    counts = {k: int(v) for k, v in re.findall(r"^# (tests|pass|fail) (\d+)$", done.stdout, re.M)}
    report = done.stdout[-6000:] + done.stderr[-2000:]
    assert done.returncode == 0, report
    assert counts.get("fail") == 0, report
    assert counts["pass"] == counts["tests"] >= 20, report
